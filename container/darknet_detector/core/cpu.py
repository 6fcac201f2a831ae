"""How many CPUs this process may really use, so thread pools never oversubscribe a CPU quota.

Under a quota (docker --cpus, Lambda's memory-sized share) more threads than granted CPUs run slower
than fewer, because the extra threads only wait for the scheduler's next period.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

from darknet_detector.contract import LAMBDA_MB_PER_VCPU

THREADS_ENV = "DETECTOR_THREADS"
CGROUP_ROOT = Path("/sys/fs/cgroup")
LAMBDA_MEMORY_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"


def cpus_from_cgroup_v2(cpu_max: str) -> float | None:
    """CPUs allowed by a cgroup v2 `cpu.max` line ("QUOTA PERIOD" or "max PERIOD"); None if unlimited."""
    fields = cpu_max.split()
    if not fields or fields[0] == "max":
        return None
    quota = int(fields[0])
    period = int(fields[1]) if len(fields) > 1 else 100_000
    return quota / period if quota > 0 and period > 0 else None


def cpus_from_cgroup_v1(quota_us: str, period_us: str) -> float | None:
    """CPUs allowed by cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`; None if unlimited (-1)."""
    quota, period = int(quota_us), int(period_us)
    return quota / period if quota > 0 and period > 0 else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """The CPU quota of this process's cgroup in CPUs, or None when there is none or it cannot be read."""
    v2 = _read(root / "cpu.max")
    if v2 is not None:
        return cpus_from_cgroup_v2(v2)
    quota, period = _read(root / "cpu" / "cpu.cfs_quota_us"), _read(root / "cpu" / "cpu.cfs_period_us")
    if quota is not None and period is not None:
        return cpus_from_cgroup_v1(quota, period)
    return None


def granted_cpus(root: Path = CGROUP_ROOT, affinity: int | None = None) -> int:
    """Whole CPUs to size thread pools by: the quota rounded up, never more than the CPUs we may run on."""
    if affinity is None:
        affinity = len(os.sched_getaffinity(0))
    limit = cgroup_cpu_limit(root)
    if limit is None:
        return max(1, affinity)
    return max(1, min(affinity, math.ceil(limit - 1e-9)))


def lambda_memory_cpus(environ: Mapping[str, str]) -> int | None:
    """Whole CPUs Lambda's memory setting pays for, or None outside Lambda.

    Lambda's VM shows two CPUs even at 1024 MB and throttles below the cgroup, so its share must come
    from the memory size: rounded, since a thread beyond a fraction of a CPU only waits (0.58 -> 1).
    """
    raw = environ.get(LAMBDA_MEMORY_ENV, "").strip()
    if not raw.isdigit():
        return None
    return max(1, round(int(raw) / LAMBDA_MB_PER_VCPU))


def thread_count(environ: Mapping[str, str] | None = None, root: Path = CGROUP_ROOT) -> int:
    """Threads for the inference engine: DETECTOR_THREADS when set, otherwise the granted CPUs,
    never more than Lambda's memory-sized share."""
    environ = os.environ if environ is None else environ
    override = environ.get(THREADS_ENV, "").strip()
    if override:
        value = int(override)
        if value < 1:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, got {override!r}")
        return value
    granted = granted_cpus(root)
    share = lambda_memory_cpus(environ)
    return granted if share is None else min(granted, share)
