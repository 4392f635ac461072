"""pysim.Config: the CLI's schema, keys and errors, through the extension."""

import pickle

import pytest

import pysim


def cli_error(pagesim, assignment):
    """The CLI's message for `--set assignment`, without its 'origin: ' prefix."""
    p = pagesim("config", "--dump", "--set", assignment)
    assert p.returncode == 2, p.stdout
    return p.stderr


def test_defaults_are_the_clis(pagesim):
    p = pagesim("config", "--dump")
    assert p.returncode == 0
    assert pysim.Config().dump() == p.stdout


def test_overrides_dump_like_the_cli(pagesim, tmp_path):
    cfg = pysim.Config({"tlb.l2.entries": 3072}, mode="nested", guest__thp="2m", seed=7)
    p = pagesim("config", "--dump", "--set", "tlb.l2.entries=3072", "--set", "mode=nested",
                "--set", "guest.thp=2m", "--set", "seed=7")
    assert cfg.dump() == p.stdout
    assert cfg["tlb.l2.entries"] == 3072 and cfg["mode"] == "nested" and cfg["seed"] == 7
    # A dump loads back, as a file source, below the overrides.
    path = tmp_path / "machine.toml"
    cfg.save(path)
    again = pysim.Config(path, seed=9)
    assert again["tlb.l2.entries"] == 3072 and again["seed"] == 9


def test_unknown_key_names_it_and_suggests(pagesim):
    with pytest.raises(pysim.ConfigError) as e:
        pysim.Config(tlb__l1d__wayz=4)
    assert e.value.key == "tlb.l1d.wayz"
    assert "unknown configuration key 'tlb.l1d.wayz'" in str(e.value)
    assert "did you mean 'tlb.l1d.ways'" in str(e.value)
    # the same words as the CLI, after the origin ("keyword argument" / "--set")
    assert str(e.value).split(": ", 1)[1] in cli_error(pagesim, "tlb.l1d.wayz=4")


@pytest.mark.parametrize("key,value,reason", [
    ("tlb.l1d.ways", 0, "0 is not valid here: it must be at least 1"),  # a field check
    ("tlb.l1d.entries", "many", "'many' is not a whole number"),  # the parser
    ("paging.levels", 3, "3 is outside 4..5"),  # a range
    ("mode", "hybrid", "'hybrid' is not one of: native, nested, shadow"),  # a choice
])
def test_bad_value_names_the_key(pagesim, key, value, reason):
    with pytest.raises(pysim.ConfigError) as e:
        pysim.Config({key: value})
    assert e.value.key == key
    assert f"{key}: {reason}" in str(e.value)
    # The CLI rejects the same assignment with the same words.
    assert f"{key}: {reason}" in cli_error(pagesim, f"{key}={value}")


def test_cross_field_rule_names_the_key():
    with pytest.raises(pysim.ConfigError) as e:
        pysim.Config(tlb__l2__entries=2048)  # 12 ways in the default STLB
    assert e.value.key == "tlb.l2.entries"
    assert "not divisible by 12 ways" in str(e.value)


def test_type_errors_name_the_key():
    with pytest.raises(pysim.ConfigError) as e:
        pysim.Config(seed=[1, 2])
    assert e.value.key == "seed"


def test_set_replace_and_pickle():
    cfg = pysim.Config(mode="shadow")
    other = cfg.replace({"tlb.l1d.ways": 8}, seed=3)
    assert cfg["tlb.l1d.ways"] != 8 and other["tlb.l1d.ways"] == 8 and other["seed"] == 3
    assert other.overrides == {"mode": "shadow", "tlb.l1d.ways": "8", "seed": "3"}
    assert pickle.loads(pickle.dumps(other)) == other
    with pytest.raises(pysim.ConfigError):
        other.set("tlb.l1d.ways", 0)


def test_schema_lists_every_key():
    keys = [f["key"] for f in pysim.schema()]
    assert keys == pysim.Config().keys()
    assert {"mode", "tlb.l1d.ways", "vm.memory", "host.memory"} <= set(keys)
    assert all(f["doc"] for f in pysim.schema())
