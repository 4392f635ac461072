"""pysim.sweep: a Dask LocalCluster of 2 workers gives the serial sweep, row for row."""

import os

import numpy as np
import pandas as pd
import pytest

import pysim

GRID = {"mode": ["native", "nested"], "tlb.l2.entries": [768, 1536]}
TRACES = {"uniform": "gen:uniform:count=20000,footprint=128MiB",
          "zipf": "gen:zipf:count=20000,footprint=128MiB,seed=3"}


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_points_of_grid():
    assert pysim._sweep.points_of({"mode": ["a", "b"], "seed": [1, 2]}) == [
        {"mode": "a", "seed": 1}, {"mode": "a", "seed": 2},
        {"mode": "b", "seed": 1}, {"mode": "b", "seed": 2}]
    assert pysim._sweep.points_of([{"tlb__l1d__ways": 8}]) == [{"tlb.l1d.ways": 8}]


def test_cluster_equals_serial(client):
    serial = pysim.sweep(GRID, TRACES, serial=True, progress=False)
    parallel = pysim.sweep(GRID, TRACES, client=client, progress=False)
    assert len(serial) == 8 and (serial["status"] == "ok").all()
    assert (serial["wall_seconds"] > 0).all()
    pd.testing.assert_frame_equal(serial.drop(columns="wall_seconds"),
                                  parallel.drop(columns="wall_seconds"))
    # the same cluster named by its scheduler's address
    by_address = pysim.sweep({"mode": ["shadow"]}, TRACES, client=client.scheduler.address,
                             progress=False)
    assert list(by_address["status"]) == ["ok", "ok"]
    # and each row is what pysim.run gives
    one = pysim.run(TRACES["zipf"], mode="nested", tlb__l2__entries=1536)
    row = serial[(serial["trace"] == "zipf") & (serial["mode"] == "nested") &
                 (serial["tlb.l2.entries"] == 1536)].iloc[0]
    for key, value in one.scalars().items():
        assert row[key] == value, key
    # a bigger STLB misses less
    small = serial[serial["tlb.l2.entries"] == 768]["tlb.l2.misses"].to_numpy()
    large = serial[serial["tlb.l2.entries"] == 1536]["tlb.l2.misses"].to_numpy()
    assert (large <= small).all()


def test_a_failing_point_is_reported_in_its_row(client):
    traces = {"ok": "gen:sequential:count=5000", "missing": "/no/such/trace.pgt",
              "array": np.arange(0x7F0000000000, 0x7F0000000000 + 8 * 4000, 8,
                                 dtype=np.uint64)}
    df = pysim.sweep({"tlb.l1d.ways": [0, 4]}, traces, client=client, progress=False)
    assert len(df) == 6
    bad_ways = df[df["tlb.l1d.ways"] == 0]
    assert (bad_ways["status"] == "error").all()
    assert bad_ways["error"].str.contains("tlb.l1d.ways: 0 is not valid").all()
    missing = df[(df["trace"] == "missing") & (df["tlb.l1d.ways"] == 4)].iloc[0]
    assert missing["status"] == "error" and "/no/such/trace.pgt" in missing["error"]
    good = df[(df["tlb.l1d.ways"] == 4) & (df["trace"] != "missing")]
    assert (good["status"] == "ok").all()
    assert list(good["sim.accesses"]) == [5000, 4000]
    assert np.isnan(bad_ways["sim.accesses"]).all()


def test_default_is_a_local_cluster_sized_to_the_machine(monkeypatch):
    import distributed
    sizes = []
    real = distributed.LocalCluster

    def spy(*args, **kwargs):
        sizes.append((kwargs.get("processes"), kwargs.get("n_workers"),
                      kwargs.get("threads_per_worker")))
        return real(*args, **kwargs)

    monkeypatch.setattr(distributed, "LocalCluster", spy)
    df = pysim.sweep({"mode": ["native", "shadow"]}, "gen:sequential:count=3000",
                     progress=False)
    # Threads in this process, one per core: each run is a process of its own already.
    assert sizes == [(False, 1, os.cpu_count())]
    assert list(df["status"]) == ["ok", "ok"] and list(df["sim.accesses"]) == [3000, 3000]


SCRIPT = """\
import pysim
df = pysim.sweep({"tlb.l2.entries": [768, 1536]}, {"seq": "gen:sequential:count=2000"},
                 progress=False)
print("rows", len(df), "ok", bool((df["status"] == "ok").all()))
"""


@pytest.mark.parametrize("how", ["script", "stdin"])
def test_a_script_without_a_main_guard_finishes(tmp_path, how):
    """The README's sweep as a plain script (no `if __name__ == "__main__":`) or on stdin:
    the default cluster re-imports nothing, so it runs once and ends."""
    import subprocess
    import sys
    distributed = pytest.importorskip("distributed")  # noqa: F841
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pysim.__file__)))
    if how == "script":
        path = tmp_path / "sweep_script.py"
        path.write_text(SCRIPT)
        p = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                           timeout=300, env=env, cwd=tmp_path)
    else:
        p = subprocess.run([sys.executable, "-"], input=SCRIPT, capture_output=True, text=True,
                           timeout=300, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == "rows 2 ok True", p.stdout + p.stderr
    assert p.stdout.count("rows") == 1, "the script ran once"


def test_an_unknown_grid_key_raises_before_anything_runs():
    with pytest.raises(pysim.ConfigError) as e:
        pysim.sweep({"tlb.l2.entriez": [1, 2]}, "gen:sequential:count=10", serial=True,
                    progress=False)
    assert "tlb.l2.entriez" in str(e.value)
    assert e.value.keys == ["tlb.l2.entriez"]
