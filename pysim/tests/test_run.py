"""pysim.run: the same statistics as the CLI, one process per run, KeyboardInterrupt."""

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

import pysim

BASE = 0x7F00_0000_0000


def write_text_trace(path, addresses, kinds=None, sizes=None):
    letters = np.array(["R", "W", "X"])[kinds] if kinds is not None else ["R"] * len(addresses)
    sizes = sizes if sizes is not None else [8] * len(addresses)
    with open(path, "w") as f:
        for a, k, s in zip(addresses, letters, sizes):
            f.write(f"{k} {int(a):#x} {int(s)}\n")


def cli_stats(pagesim, trace, tmp_path, *sets):
    out = tmp_path / "cli.json"
    args = ["replay", trace, "--json", out, "-q"]
    for s in sets:
        args += ["--set", s]
    p = pagesim(*args)
    assert p.returncode == 0, p.stderr
    stats = json.loads(out.read_text())
    provenance = stats.pop("provenance")  # how the file was made: not a statistic
    assert provenance["trace"]["path"] == str(trace)
    return stats


def mixed_array(n, seed):
    """A random-ish trace: a hot 2 MiB region, a cold 1 GiB region, unaligned sizes."""
    rng = np.random.default_rng(seed)
    hot = BASE + rng.integers(0, 2 << 20, n)
    cold = BASE + (1 << 32) + rng.integers(0, 1 << 30, n)
    addresses = np.where(rng.random(n) < 0.7, hot, cold).astype(np.uint64)
    kinds = rng.choice(np.array([0, 1, 2], dtype=np.uint8), n, p=[0.6, 0.3, 0.1])
    sizes = rng.choice(np.array([1, 4, 8, 64], dtype=np.uint32), n)
    return addresses, kinds, sizes


@pytest.mark.parametrize("mode", ["native", "nested", "shadow"])
def test_array_equals_cli_on_the_same_trace(pagesim, tmp_path, mode):
    addresses, kinds, sizes = mixed_array(20_000, seed=len(mode))
    path = tmp_path / "t.trace"
    write_text_trace(path, addresses, kinds, sizes)
    expected = cli_stats(pagesim, path, tmp_path, f"mode={mode}")
    got = pysim.run(addresses, kinds=kinds, sizes=sizes, mode=mode, progress=False)
    assert not got.partial
    assert got.stats == expected
    assert got.stats["sim.accesses"] == 20_000


def test_letters_and_dataframe_traces_are_the_same_as_codes(pagesim, tmp_path):
    import pandas as pd
    addresses, kinds, _ = mixed_array(5_000, seed=3)
    letters = np.array(["R", "W", "X"])[kinds]
    a = pysim.run(addresses, kinds=kinds, progress=False)
    b = pysim.run(addresses, kinds=letters, progress=False)
    c = pysim.run(pd.DataFrame({"address": addresses, "kind": letters}), progress=False)
    assert a.stats == b.stats == c.stats
    # no kinds: every access a load of 8 bytes, as in a text trace without them
    path = tmp_path / "loads.trace"
    write_text_trace(path, addresses)
    assert pysim.run(addresses, progress=False).stats == cli_stats(pagesim, path, tmp_path)


def test_generator_and_file_equal_cli(pagesim, tmp_path):
    spec = "gen:zipf:count=50000,footprint=256MiB,writes=0.3"
    assert pysim.run(spec, mode="nested").stats == cli_stats(pagesim, spec, tmp_path,
                                                             "mode=nested")
    demo = os.path.join(os.path.dirname(__file__), "..", "..", "traces", "examples",
                        "cr3_switch.pgt")
    assert pysim.run(demo, mode="shadow").stats == cli_stats(pagesim, demo, tmp_path,
                                                             "mode=shadow")


def test_two_runs_in_one_interpreter_are_identical():
    # SystemC elaborates once per process: each run has a worker process of its own.
    first = pysim.run("gen:uniform:count=30000,footprint=64MiB", mode="nested")
    second = pysim.run("gen:uniform:count=30000,footprint=64MiB", mode="nested")
    assert first.stats == second.stats
    third = pysim.run("gen:uniform:count=30000,footprint=64MiB", mode="native")
    assert third.stats != first.stats


def test_result_views():
    r = pysim.run("gen:uniform:count=20000,footprint=64MiB", pysim.Config(mode="nested"),
                  label="uniform")
    df = r.to_pandas()
    assert len(df) == 1 and df.loc[0, "trace"] == "uniform" and df.loc[0, "mode"] == "nested"
    assert df.loc[0, "sim.accesses"] == 20000
    lows, counts = r.histogram("walker.refs_per_walk")
    assert lows[0] == 0 and lows[-1] == 36 and counts.sum() == r["walker.walks"]
    assert isinstance(r.histograms["walker.refs_per_walk"], np.ndarray)
    grid = r.walk_grid()
    assert grid.shape == (6, 6) and grid.sum() == r["walker.refs"]
    assert r.config["mode"] == "nested"
    assert pysim.run("gen:sequential:count=100").walk_grid() is None


def test_page_life():
    r = pysim.run("gen:sequential:count=2000,footprint=64KiB", mode="nested",
                  trace_page=BASE + 4096)
    life = r.page_life
    assert list(life.columns) == ["record", "kind", "event"]
    assert {"TLB miss", "guest page fault", "EPT violation", "TLB fill"} <= set(life["kind"])
    assert life["record"].is_monotonic_increasing


def test_errors_are_python_exceptions(tmp_path):
    with pytest.raises(pysim.ConfigError) as e:
        pysim.run("gen:sequential:count=10", tlb__l1d__ways=0)
    assert e.value.key == "tlb.l1d.ways"
    with pytest.raises(pysim.TraceError, match="no-such.trace"):
        pysim.run(str(tmp_path / "no-such.trace"))
    bad = tmp_path / "bad.trace"
    bad.write_text("R 0x1000\nR 0x12g4\n")
    with pytest.raises(pysim.TraceError, match=r"bad.trace:2: "):
        pysim.run(bad)
    with pytest.raises(pysim.TraceError, match="count"):
        pysim.run("gen:uniform:count=-1")
    with pytest.raises(ValueError, match="kinds: element 1"):
        pysim.run(np.array([BASE, BASE]), kinds=["R", "Q"])
    with pytest.raises(TypeError):
        pysim.run(np.zeros((2, 2), dtype=np.uint64))


def test_keyboard_interrupt_returns_partial_statistics():
    total = 200_000_000  # minutes of simulation: the interrupt must end it
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.warns(RuntimeWarning, match="partial"):
            r = pysim.run(f"gen:uniform:count={total},footprint=2GiB", mode="nested",
                          progress=False)
    finally:
        timer.cancel()
    elapsed = time.monotonic() - start
    assert r.partial
    assert 0 < r["sim.accesses"] < total
    # The core finished the batch in hand: every record read was replayed.
    assert r["sim.accesses"] == r.records
    assert r["walker.walks"] > 0
    assert elapsed < 30
    # the interpreter is fine afterwards, and Ctrl-C works as usual again
    assert not pysim.run("gen:sequential:count=1000").partial
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_timeseries_is_a_frame_of_each_intervals_deltas():
    # 5000 loads, one per 4 KiB page of a 64 MiB footprint, sampled every 1000: each
    # interval replays 1000 accesses and, every page being new, faults 1000 times.
    r = pysim.run("gen:sequential:count=5000,footprint=64MiB,size=4096", sim__interval=1000,
                  progress=False)
    df = r.timeseries
    assert list(df.index) == [1000, 2000, 3000, 4000, 5000]
    assert df.attrs["interval"] == 1000
    assert (df["sim.accesses"] == 1000).all()
    assert (df["os.page_faults"] == 1000).all()
    for name in ("tlb.l1d.misses", "walker.walks", "sim.cycles"):
        assert df[name].sum() == r.stats[name], name
    fig = pysim.plot.timeseries(r)
    assert fig.axes
    assert pysim.run("gen:sequential:count=10", progress=False).timeseries is None
