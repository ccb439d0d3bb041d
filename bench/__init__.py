"""Samverkan benchmarks (`make bench`): every figure beside a raw baseline from the same run."""
