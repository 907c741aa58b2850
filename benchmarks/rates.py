"""Shared by the benchmarks: the machine's reference rates, timed in the same run as what they are compared with.

Every figure the benchmarks print is a ratio of two things measured in one run (absolute times differ by 2x between
machines of one kind, and more when other jobs share the cores).  Timings are the best of several repetitions
interleaved with the reference, and CPU time (user + sys, from ``resource.getrusage``) is printed next to wall time:
on a loaded machine wall time grows with the other jobs, CPU time much less.
"""

import os
import platform
import resource
import time

import torch

MM_SIZE = 2048


class Clock:
    """Wall and CPU seconds (user + sys of this process and of its finished children) of a ``with`` block."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self._wall, cpu_seconds() - self._cpu


def cpu_seconds():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def matmul_rate(n=MM_SIZE, repeats=3):
    """(GFLOP/s by wall, GFLOP/s per CPU-second) of the best of ``repeats`` fp32 ``torch.mm`` of n x n matrices on
    torch's current threads."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.mm(a, b)
    wall = cpu = float("inf")
    for _ in range(repeats):
        with Clock() as c:
            torch.mm(a, b, out=out)
        wall, cpu = min(wall, c.wall), min(cpu, c.cpu)
    flops = 2 * n**3
    return flops / wall / 1e9, flops / max(cpu, 1e-9) / 1e9


class BestOf:
    """The best (smallest) wall and CPU time over repetitions, and the best reference rate seen between them."""

    def __init__(self):
        self.wall = self.cpu = float("inf")
        self.mm = self.mm_cpu = 0.0

    def add(self, clock):
        self.wall, self.cpu = min(self.wall, clock.wall), min(self.cpu, clock.cpu)

    def add_mm(self, rate):
        self.mm, self.mm_cpu = max(self.mm, rate[0]), max(self.mm_cpu, rate[1])


def machine_line(threads=None):
    """CPU model, vector extensions torch uses, torch threads and the load average: one line for every report."""
    model = next((line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
                 platform.processor() or "?")
    threads = torch.get_num_threads() if threads is None else threads
    return (f"{model}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()}), "
            f"{threads} threads; load average {load():.1f}")


def load():
    return os.getloadavg()[0]


def _cpuinfo():
    try:
        with open("/proc/cpuinfo") as f:
            return f.read().splitlines()
    except OSError:
        return []
