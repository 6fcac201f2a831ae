import pytest

from darknet_detector.core import cpu


@pytest.mark.parametrize(
    ("line", "expected"),
    [("max 100000\n", None), ("60000 100000\n", 0.6), ("200000 100000", 2.0), ("150000 100000", 1.5)],
)
def test_cgroup_v2_quota(line, expected):
    assert cpu.cpus_from_cgroup_v2(line) == expected


def test_cgroup_v1_unlimited_quota_is_none():
    assert cpu.cpus_from_cgroup_v1("-1", "100000") is None
    assert cpu.cpus_from_cgroup_v1("50000", "100000") == 0.5


@pytest.mark.parametrize(
    ("cpu_max", "affinity", "expected"),
    [
        ("60000 100000", 2, 1),  # docker --cpus 0.6: one thread, never two
        ("100000 100000", 2, 1),
        ("150000 100000", 2, 2),  # a fraction rounds up
        ("400000 100000", 2, 2),  # never more than the CPUs we may run on
        ("max 100000", 2, 2),
    ],
)
def test_granted_cpus_from_cgroup_v2(tmp_path, cpu_max, affinity, expected):
    (tmp_path / "cpu.max").write_text(cpu_max)
    assert cpu.granted_cpus(tmp_path, affinity=affinity) == expected


def test_granted_cpus_from_cgroup_v1(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("60000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cpu.granted_cpus(tmp_path, affinity=4) == 1


def test_no_cgroup_files_means_affinity(tmp_path):
    assert cpu.granted_cpus(tmp_path, affinity=3) == 3


def test_thread_override_wins_and_is_validated(tmp_path):
    (tmp_path / "cpu.max").write_text("60000 100000")
    assert cpu.thread_count({}, tmp_path) == 1
    assert cpu.thread_count({"DETECTOR_THREADS": "3"}, tmp_path) == 3
    with pytest.raises(ValueError, match="DETECTOR_THREADS"):
        cpu.thread_count({"DETECTOR_THREADS": "0"}, tmp_path)


@pytest.mark.parametrize(
    ("memory_mb", "expected"), [("1024", 1), ("2048", 1), ("3008", 2), ("3538", 2), ("10240", 6)]
)
def test_lambda_memory_caps_threads_where_the_vm_shows_more_cpus(tmp_path, memory_mb, expected):
    """Lambda's VM shows CPUs the memory setting does not pay for; no cgroup quota reveals it."""
    (tmp_path / "cpu.max").write_text("max 100000\n")
    environ = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory_mb}
    assert cpu.thread_count(environ, root=tmp_path) == min(expected, cpu.granted_cpus(tmp_path))
    assert cpu.lambda_memory_cpus(environ) == expected


def test_outside_lambda_there_is_no_memory_share():
    assert cpu.lambda_memory_cpus({}) is None
