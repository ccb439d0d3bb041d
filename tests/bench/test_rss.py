"""The bench's memory sampler: a service's peak RSS is its real peak, not the highest of its
samples, so a rise and fall between two samples still counts against the 150 MB target."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.rss import RssSampler

pytestmark = pytest.mark.unit

# Touches 80 MB, lets it go (a block this large goes back to the kernel at once), says so, and
# waits for stdin's end.
SPIKE = (
    "import sys\nheld = bytearray(80 * 2**20)\ndel held\nprint('done', flush=True)\n"
    "sys.stdin.read()"
)


def test_a_rise_and_fall_between_two_samples_counts_in_the_peak() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", SPIKE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as spiky:
        assert spiky.stdout is not None and spiky.stdin is not None
        assert spiky.stdout.readline() == "done\n"
        sampler = RssSampler(interval_s=3600)  # no sampling thread: one sample, after the spike
        sampler.watch("spiky", spiky.pid, "test")
        sampler.sample()
        spiky.stdin.close()
    assert sampler.sampled_peak_mb["spiky"] < 60  # the sample saw the process after the fall
    assert sampler.peak_mb["spiky"] >= 80
    assert sampler.result()["spiky"]["peak_mb"] >= 80
    assert sampler.result()["spiky"]["high_water_mb"] >= 80


def test_a_name_stands_for_one_process() -> None:
    sampler = RssSampler(interval_s=3600)
    sampler.watch("service", os.getpid(), "network")
    sampler.sample()
    with pytest.raises(ValueError, match="watched before"):
        sampler.watch("service", os.getpid(), "catch-up")
