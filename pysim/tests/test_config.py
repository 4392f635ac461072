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


# Configuration limits (issue 17, item 9): values past a key's bound and contradicting keys
# raise ConfigError with the key in `.key`, as the CLI exits 2 naming it. Why each bound is
# what it is: sim/sim_params_test.cc (ConfigLimits) and docs/model.md.
@pytest.mark.parametrize("overrides,key,reason", [
    # 2^32 cycles per event keeps a run's totals in 64 bits
    ({"core.cycles_per_access": 2**64 - 1}, "core.cycles_per_access",
     "is more than 4294967296 (2^32) cycles"),
    # 2^20 entries per TLB array or walker cache, allocated at start
    ({"walker.pwc.pd.entries": 2**31}, "walker.pwc.pd.entries", "is more than 1048576 (2^20)"),
    # 2^24 lines per cache level
    ({"cache.l1.size": "1TiB"}, "cache.l1.size", "more than 16777216"),
    # the load must fit in host memory (less the low 1 MiB) plus swap
    ({"host.memory": "64MiB", "host.swap": "64MiB", "host.load": "128MiB"}, "host.load",
     "is more than the host can hold"),
    # min <= low <= high, Linux's defaults for zeros
    ({"host.watermarks.high": "4KiB"}, "host.watermarks.high", "is below host.watermarks.low"),
    # the VMM's RAM block ends below HVA 2^48
    ({"mode": "nested", "vm.memory": "1024TiB"}, "vm.memory", "is more than 129TiB"),
    # a slot past the 256 TiB of GPA a 4-level EPT maps
    ({"mode": "nested", "vm.memory": "2MiB", "vm.layout": "0x1000000000000:2MiB"}, "vm.layout",
     "of GPA a 4-level EPT/NPT maps"),
    # K = 1024; KB is refused with the spelling to use
    ({"vm.memory": "4KB"}, "vm.memory", "write 4KiB"),
    # the check names the key of its own group
    ({"host.page_fault_latency": 3}, "host.clear_page_latency",
     "must not exceed host.page_fault_latency (3)"),
])
def test_limits_raise_config_error_with_the_key(pagesim, overrides, key, reason):
    with pytest.raises(pysim.ConfigError) as e:
        pysim.Config(overrides)
    assert e.value.key == key, str(e.value)
    assert reason in str(e.value)
    assert "os.page_fault_latency" not in str(e.value)
    sets = [arg for k, v in overrides.items() for arg in ("--set", f"{k}={v}")]
    p = pagesim("config", "--dump", *sets)
    assert p.returncode == 2 and key in p.stderr and reason in p.stderr, p.stderr


def test_limits_in_a_file_and_from_the_worker_name_the_key(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text('[host]\nload = "512GiB"\n')
    with pytest.raises(pysim.ConfigError) as e:
        pysim.Config(path)
    assert e.value.key == "host.load"
    path.write_text('[core]\ncycles_per_access = 4294967297\n')
    with pytest.raises(pysim.ConfigError) as e:
        pysim.Config(path)
    assert e.value.key == "core.cycles_per_access"
    assert str(e.value).startswith(f"{path}:2: core.cycles_per_access: ")
    # A message reported by the worker process maps to its keys too.
    from pysim._config import _keys_of_message
    assert _keys_of_message("host.load: 512GiB is more than the host can hold\n"
                            "vm.memory: 1024TiB is more than 129TiB") == ["host.load",
                                                                         "vm.memory"]


def test_schema_states_the_limits():
    fields = {f["key"]: f for f in pysim.schema()}
    assert fields["core.cycles_per_access"]["limits"] == "at most 4294967296 (2^32)"
    assert "at most 129TiB" in fields["vm.memory"]["limits"]
    assert "at most 64TiB" in fields["host.memory"]["limits"]
    assert fields["seed"]["limits"] == ""


def test_values_past_toml_integers_read_back():
    # TOML integers stop at 2^63 - 1: larger values dump as strings and still read as int.
    cfg = pysim.Config(seed=2**64 - 1, host__swap=2**64 - 1)
    assert cfg["seed"] == 2**64 - 1 and cfg["host.swap"] == 2**64 - 1
    assert 'seed = "18446744073709551615"' in cfg.dump()
