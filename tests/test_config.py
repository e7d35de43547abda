"""One reader for every configuration file, one exit-code rule: missing -> 2, malformed -> 1."""
import pytest

from fedcost.config import load_mapping
from fedcost.errors import DataError, UsageError


def test_yaml_and_toml_mappings(tmp_path):
    (tmp_path / "a.yaml").write_text("x: 1\ny: [a, b]\n")
    (tmp_path / "b.toml").write_text('[plan]\nname = "p"\n')
    (tmp_path / "empty.yaml").write_text("")
    assert load_mapping(tmp_path / "a.yaml", "policy") == {"x": 1, "y": ["a", "b"]}
    assert load_mapping(tmp_path / "b.toml", "plan") == {"plan": {"name": "p"}}
    assert load_mapping(tmp_path / "empty.yaml", "policy") == {}


@pytest.mark.parametrize("name, text, error, exit_code, message", [
    ("missing.yaml", None, UsageError, 2, "no such policy file"),
    ("bad.yaml", "x: [1\n", DataError, 1, "not valid YAML"),
    ("bad.toml", "[plan\n", DataError, 1, "not valid TOML"),
    ("list.yaml", "- 1\n- 2\n", DataError, 1, "must be a mapping"),
    ("gbk.yaml", "名称: 值\n".encode("gbk"), DataError, 1, "not UTF-8"),
])
def test_one_rule_for_every_file(tmp_path, name, text, error, exit_code, message):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    with pytest.raises(error) as err:
        load_mapping(path, "policy")
    assert err.value.exit_code == exit_code and message in str(err.value) and str(path) in str(err.value)
