"""The table of analysis kinds: every kind a study names, rebuilt from its spec; nothing else."""
import pytest

from fedcost.analyses import kinds
from fedcost.errors import UsageError


def test_every_kind_is_listed_and_round_trips_its_spec():
    assert set(kinds.KINDS) == {"glm", "descriptive", "benchmark", "warning", "payment", "cea"}
    for kind, cls in kinds.KINDS.items():
        assert cls.kind == kind
    a = kinds.from_spec({"kind": "descriptive", "by": ["region"]})
    assert kinds.from_spec(a.spec()).spec() == a.spec()


def test_an_unknown_kind_is_refused():
    with pytest.raises(UsageError, match="unknown analysis kind 'os.system'"):
        kinds.from_spec({"kind": "os.system"})
