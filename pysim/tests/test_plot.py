"""pysim.plot: each figure draws from real results (a smoke test: axes, labels, data)."""

import numpy as np
import pytest

import pysim

BASE = 0x7F00_0000_0000


@pytest.fixture(scope="module")
def nested():
    return pysim.run("gen:uniform:count=20000,footprint=256MiB", mode="nested", label="u")


def test_refs_per_walk_native_and_nested(nested, tmp_path):
    native = pysim.run("gen:uniform:count=20000,footprint=256MiB", label="u")
    fig = pysim.plot.refs_per_walk(native)
    assert len(fig.axes) == 1
    fig = pysim.plot.refs_per_walk(nested)
    assert len(fig.axes) == 3  # histogram, grid, colour bar
    bars = fig.axes[0].patches
    assert sum(b.get_height() for b in bars) == nested["walker.walks"]
    path = pysim.plot.savefig(fig, tmp_path / "grid.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_cycle_causes_add_up(nested):
    shadow = pysim.run("gen:zipf:count=20000,footprint=64MiB", mode="shadow")
    for r in (nested, shadow):
        causes = pysim.plot.cycle_causes(r.stats)
        assert all(v >= 0 for v in causes.values())
        assert sum(causes.values()) == r["sim.cycles"]
    fig = pysim.plot.cycles_by_cause({"nested": nested})
    assert fig.axes[0].get_ylabel() == "cycles per access"


def test_miss_rate_vs_tlb_size():
    df = pysim.sweep({"tlb.l2.entries": [384, 1536]}, {"u": "gen:uniform:count=20000,"
                                                       "footprint=64MiB"}, serial=True,
                     progress=False)
    fig = pysim.plot.miss_rate_vs_tlb_size(df)
    (line,) = fig.axes[0].get_lines()
    assert line.get_label() == "u"
    x, y = line.get_data()
    assert list(x) == [384, 1536] and y[1] <= y[0]
    expected = 100 * df["tlb.l2.misses"] / (df["tlb.l2.hits"] + df["tlb.l2.misses"])
    assert np.allclose(y, expected)


def test_page_timeline():
    r = pysim.run("gen:strided:count=12000,footprint=16MiB,stride=4KiB", mode="nested",
                  host__memory="12MiB", trace_page=BASE + 5 * 4096)
    kinds = set(r.page_life["kind"])
    assert {"host eviction", "host refault", "EPT violation"} <= kinds
    fig = pysim.plot.page_timeline(r)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "host eviction" in labels and "TLB miss" in labels
    with pytest.raises(ValueError):
        pysim.plot.page_timeline(pysim.run("gen:sequential:count=10"))


def test_sweep_plots_label_by_the_swept_keys_and_coinciding_lines_stay_visible():
    # Two traces with the same accesses (so their lines coincide exactly), two L1 sizes.
    spec = "gen:uniform:count=5000,footprint=16MiB"
    df = pysim.sweep({"tlb.l1d.entries": [32, 64], "tlb.l2.entries": [384, 1536]},
                     {"a": spec, "b": spec}, serial=True, progress=False)
    assert df.attrs["grid_keys"] == ["tlb.l1d.entries", "tlb.l2.entries"]
    fig = pysim.plot.cycles_by_cause(df)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[0] == "a, tlb.l1d.entries=32, tlb.l2.entries=384"
    assert len(set(labels)) == len(df)  # every bar tells its point apart
    fig = pysim.plot.miss_rate_vs_tlb_size(df, by=["trace", "tlb.l1d.entries"])
    lines = fig.axes[0].get_lines()
    # In the order the rows first show them: grid order, then trace order.
    assert [ln.get_label() for ln in lines] == [
        "a, tlb.l1d.entries=32", "b, tlb.l1d.entries=32", "a, tlb.l1d.entries=64",
        "b, tlb.l1d.entries=64"]
    a32, b32 = lines[0], lines[1]
    assert np.allclose(a32.get_ydata(), b32.get_ydata())  # they coincide...
    assert a32.get_marker() != b32.get_marker()  # ...and each can still be seen
    assert a32.get_linewidth() > b32.get_linewidth()
    assert b32.get_zorder() > a32.get_zorder()
