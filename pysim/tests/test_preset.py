"""pysim.Config(preset=...): the CLI's --preset, through the same C++ presets."""

import json
import pickle

import pytest

import pysim


def test_preset_dumps_like_the_cli(pagesim):
    for name in ["skylake-sp", "icelake-sp", "sapphire-rapids", "zen3", "zen4"]:
        p = pagesim("config", "--dump", "--preset", name)
        assert p.returncode == 0, p.stderr
        assert pysim.Config(preset=name).dump() == p.stdout, name
    assert pysim.presets() == ["skylake-sp", "icelake-sp", "sapphire-rapids", "zen3", "zen4",
                               "host"]


def test_preset_is_below_file_and_overrides(pagesim, tmp_path):
    cfg = pysim.Config(preset="zen4", tlb__l2__entries=1536, tlb__l2__ways=12)
    assert cfg["tlb.l1d.entries"] == 72 and cfg["tlb.l2.entries"] == 1536
    assert cfg.preset == "zen4" and cfg.overrides == {"tlb.l2.entries": "1536",
                                                       "tlb.l2.ways": "12"}
    p = pagesim("config", "--dump", "--preset", "zen4", "--set", "tlb.l2.entries=1536",
                "--set", "tlb.l2.ways=12")
    assert cfg.dump() == p.stdout
    path = tmp_path / "small.toml"
    path.write_text("[cache.l2]\nlatency = 20\n")
    with_file = pysim.Config(path, preset="zen3")
    assert with_file["cache.l2.latency"] == 20 and with_file["cache.l1.latency"] == 4
    # copies, replace() and pickling keep the preset
    assert pysim.Config(cfg, seed=3)["tlb.l1d.entries"] == 72
    assert cfg.replace(seed=3).preset == "zen4"
    again = pickle.loads(pickle.dumps(cfg))
    assert again == cfg and again.preset == "zen4"


def test_unknown_preset_lists_the_presets():
    with pytest.raises(pysim.ConfigError) as e:
        pysim.Config(preset="zen9")
    assert e.value.key == "preset"
    assert "preset='zen9': unknown preset" in str(e.value)
    assert "skylake-sp, icelake-sp, sapphire-rapids, zen3, zen4, host" in str(e.value)


def test_host_preset_reports_what_it_read():
    cfg = pysim.Config(preset="host")
    assert cfg.preset == "host"
    assert "--preset host:" in cfg.preset_report
    assert "read     tlb.l2.entries" in cfg.preset_report or "assumed  tlb.l2.entries" in \
        cfg.preset_report
    assert cfg.dump().startswith("# Preset host applied first")


def test_run_with_a_preset_equals_the_cli(pagesim, tmp_path):
    spec = "gen:uniform:count=20000,footprint=64MiB"
    r = pysim.run(spec, pysim.Config(preset="zen4"))
    out = tmp_path / "cli.json"
    p = pagesim("replay", spec, "--preset", "zen4", "--json", out, "-q")
    assert p.returncode == 0, p.stderr
    cli = json.loads(out.read_text())
    assert cli.pop("provenance")["configuration"]["tlb.l2.entries"] == str(r.config["tlb.l2.entries"])
    assert r.stats == cli
    assert r.stats != pysim.run(spec).stats  # the preset changed the machine
    rows = pysim.sweep({"preset": ["skylake-sp", "zen4"]}, spec, serial=True,
                       progress=False)
    assert list(rows["preset"]) == ["skylake-sp", "zen4"]
    assert list(rows["status"]) == ["ok", "ok"]
