"""The bench's CPU meter counts a process tree's work, including children that have already ended,
and leaves out a tree it could not read at both ends rather than call it free."""

from __future__ import annotations

import collections
import math
import os
import subprocess
import sys
import time

import psutil
import pytest

from bench.cpu import CpuMeter, Reading, descendants, machine_s, tree_cpu_s

pytestmark = pytest.mark.unit

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"


def test_a_child_that_ended_still_counts_in_its_parents_tree() -> None:
    me = psutil.Process(os.getpid())
    before = tree_cpu_s(me)
    subprocess.run([sys.executable, "-c", BURN], check=True)  # waited for, so reaped
    assert tree_cpu_s(me) - before >= 0.25  # 0.3 s, less the rounding to 10 ms ticks


# Burns 0.3 s of CPU once told to (a line on stdin), says so, and waits for stdin's end.
ON_CUE = (
    "import sys\nsys.stdin.readline()\n" + BURN + "\nprint('burnt', flush=True)\nsys.stdin.read()"
)


def test_a_running_grandchild_counts_before_it_ends() -> None:
    me = psutil.Process(os.getpid())
    # A shell whose child burns and then waits: the burner is a live grandchild when read.
    with subprocess.Popen(
        ["sh", "-c", f'"{sys.executable}" -c "$0"; true', ON_CUE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as shell:
        assert shell.stdin is not None and shell.stdout is not None
        before = tree_cpu_s(me)
        shell.stdin.write("go\n")
        shell.stdin.flush()
        assert shell.stdout.readline() == "burnt\n"
        assert len(me.children(recursive=True)) >= 2
        assert tree_cpu_s(me) - before >= 0.25
        shell.communicate("")


def test_a_child_metered_as_a_part_of_its_own_is_not_counted_in_its_parents_part() -> None:
    # As the bench's baseline loops run: their process is the parent of the Postgres it meters.
    with subprocess.Popen(
        [sys.executable, "-c", ON_CUE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        meter = CpuMeter({"consumer": os.getpid(), "postgres": child.pid})
        start = meter.read()
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline() == "burnt\n"
        cost = CpuMeter.per_event(start, meter.read(), events=1)
        child.communicate("")
    assert cost["us_per_event"]["postgres"] >= 0.25e6
    assert cost["us_per_event"]["consumer"] < 0.1e6  # this process only waited meanwhile
    assert cost["total_us_per_event"] < 0.3e6 + 0.1e6  # the burn counted once, not twice


def test_per_event_splits_the_cost_and_says_how_busy_the_cores_were() -> None:
    start = Reading(at=10.0, cpu_s={"consumer": 1.0, "postgres": 2.0, "broker": 5.0})
    end = Reading(at=12.0, cpu_s={"consumer": 2.0, "postgres": 2.5, "broker": 5.5})
    cost = CpuMeter.per_event(start, end, events=10_000)
    assert cost["us_per_event"] == {"consumer": 100.0, "postgres": 50.0, "broker": 50.0}
    assert cost["total_us_per_event"] == 200.0
    assert cost["busy_cores"] == 1.0  # 2 CPU-seconds in 2 s


def test_the_trees_of_one_part_at_several_principals_are_summed() -> None:
    start = Reading(at=0.0, cpu_s={"referral/a": 1.0, "referral/b": 2.0, "broker": 0.0})
    end = Reading(at=2.0, cpu_s={"referral/a": 1.5, "referral/b": 3.0, "broker": 1.0})
    assert CpuMeter.spent(start, end) == {"referral": 1.5, "broker": 1.0}
    assert CpuMeter.cores(start, end) == {"referral": 0.75, "broker": 0.5}
    cost = CpuMeter.per_event(start, end, events=100)
    assert cost["us_per_event"] == {"referral": 15_000.0, "broker": 10_000.0}
    assert cost["busy_cores"] == 1.25


@pytest.mark.parametrize("missing_from", ["start", "end"])
def test_a_part_with_an_instance_read_at_one_end_only_is_left_out(missing_from: str) -> None:
    both = {"referral/a": 1.0, "broker": 0.0}
    start = Reading(at=0.0, cpu_s=both | ({} if missing_from == "start" else {"referral/b": 2.0}))
    end = Reading(at=1.0, cpu_s=both | ({} if missing_from == "end" else {"referral/b": 2.0}))
    assert CpuMeter.spent(start, end) == {"broker": 0.0}  # not "referral" at half its cost


def test_the_whole_machine_is_read_beside_the_trees() -> None:
    meter = CpuMeter({"consumer": os.getpid()})
    start = meter.read()
    end_of_burn = time.process_time() + 0.3
    while time.process_time() < end_of_burn:
        pass
    cost = CpuMeter.per_event(start, meter.read(), events=1)
    # The machine was at least as busy as this process, which it includes.
    assert cost["machine_busy_cores"] >= 0.8 * cost["busy_cores"] > 0


def test_a_tree_gone_by_the_second_reading_is_left_out() -> None:
    start = Reading(at=0.0, cpu_s={"consumer": 1.0, "broker": 1.0})
    end = Reading(at=1.0, cpu_s={"consumer": 1.5})
    cost = CpuMeter.per_event(start, end, events=1000)
    assert cost["us_per_event"] == {"consumer": 500.0}
    assert cost["total_us_per_event"] == 500.0


def test_the_meter_reads_live_processes_and_marks_absent_ones() -> None:
    meter = CpuMeter({"consumer": os.getpid(), "broker": None})
    start = meter.read()
    assert start.cpu_s["consumer"] > 0 and math.isnan(start.cpu_s["broker"])
    assert set(CpuMeter.per_event(start, meter.read(), 1)["us_per_event"]) == {"consumer"}


def test_a_process_that_died_unreaped_counts_as_gone() -> None:
    with subprocess.Popen([sys.executable, "-c", "pass"]) as child:
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.01)  # ended, not waited for: its times stand still
        reading = CpuMeter({"consumer": child.pid}).read()
        assert math.isnan(reading.cpu_s["consumer"])


def test_a_stale_index_yields_no_stranger_and_no_loop() -> None:
    me = psutil.Process(os.getpid())
    # pid 1 is not our child (a pid reused since the scan); our own pid under us, a cycle.
    index = {me.pid: [1, me.pid]}
    assert list(descendants(me, index=index)) == []


def test_the_machine_counts_neither_idle_nor_steal_and_guests_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fields = "user nice system idle iowait irq softirq steal guest guest_nice"
    times = collections.namedtuple("scputimes", fields)
    # user and nice include guest and guest_nice, as in /proc/stat: counted there, not again.
    monkeypatch.setattr(psutil, "cpu_times", lambda: times(10, 2, 3, 50, 4, 1, 1, 5, 6, 1))
    busy, steal = machine_s()
    assert (busy, steal) == (10 + 2 + 3 + 1 + 1, 5)
