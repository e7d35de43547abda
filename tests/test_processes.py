"""Process management shared by the engines."""
from fedcost.engines import processes


def test_free_ports_are_distinct():
    ports = processes.free_ports(5)
    assert len(set(ports)) == 5 and all(p > 0 for p in ports)


def test_teardown_stops_a_process_it_did_not_start(tmp_path):
    """Processes found by a caller (a SuperLink that `flwr run` detached) are stopped too; `alive` sees them."""
    import subprocess

    import psutil

    other = subprocess.Popen(["sleep", "300"], start_new_session=True)
    group = processes.ProcessGroup(tmp_path)
    group.extra.append(psutil.Process(other.pid))
    assert [p.pid for p in group.alive()] == [other.pid]
    group.teardown(grace=1)
    assert other.wait(timeout=5) is not None and group.alive() == []
