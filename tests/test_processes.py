"""Process management shared by the engines."""
from fedcost.engines import processes


def test_free_ports_are_distinct():
    ports = processes.free_ports(5)
    assert len(set(ports)) == 5 and all(p > 0 for p in ports)
