"""pysim.plot: the figures the notebooks draw, from Results and sweep DataFrames.

    miss_rate_vs_tlb_size(df)      TLB miss rate against TLB entries, one line per group
    refs_per_walk(result)          references per walk; nested mode adds the 2D grid of
                                   references per (guest level, EPT level) cell
    cycles_by_cause(results)       stacked cycles: work, TLB, walks, faults, VM exits
    page_timeline(result)          the life of one page (run(..., trace_page=ADDRESS))
    timeseries(result)             miss rates and cycles per access over time
                                   (run(..., sim__interval=N))

Each takes an optional matplotlib Axes (``ax=``) and returns the Figure.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["miss_rate_vs_tlb_size", "refs_per_walk", "walk_grid", "cycles_by_cause",
           "cycle_causes", "page_timeline", "timeseries", "savefig"]


def _axes(ax, **subplots):
    if ax is None:
        fig, ax = plt.subplots(**subplots)
        return fig, ax
    return ax.figure, ax


def savefig(fig, path) -> str:
    """Saves `fig` as PNG (tight, 120 dpi) and returns the path."""
    import os
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return str(path)


_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
_DASHES = ["-", "--", "-.", ":"]


def _series_style(i: int, n: int) -> dict:
    """Line i of n: colour, marker and dash of its own; earlier lines wider and bigger, so a
    later line that coincides with one is drawn inside it and both stay visible."""
    return {"color": f"C{i % 10}", "marker": _MARKERS[i % len(_MARKERS)],
            "linestyle": _DASHES[i % len(_DASHES)],
            "linewidth": 1.0 + 1.5 * (n - 1 - i) / max(n - 1, 1),
            "markersize": 4.0 + 5.0 * (n - 1 - i) / max(n - 1, 1),
            "markerfacecolor": "none" if i % 2 else f"C{i % 10}", "zorder": 2 + i}


def _series_label(by, name) -> str:
    """A line's label: key=value for each grouping key ("trace" by its value alone)."""
    keys = [by] if isinstance(by, str) else list(by)
    values = list(name) if isinstance(name, tuple) else [name]
    return ", ".join(str(v) if k == "trace" else f"{k}={v}" for k, v in zip(keys, values))


def miss_rate_vs_tlb_size(df, size: str = "tlb.l2.entries", level: str = "l2",
                          by: str | list[str] = "trace", ax=None):
    """Miss rate of TLB `level` (l1d, l1i, l2) in percent against the `size` column of a
    sweep DataFrame, one line per value of `by`."""
    fig, ax = _axes(ax, figsize=(6, 4))
    ok = df[df["status"] == "ok"] if "status" in df else df
    hits, misses = ok[f"tlb.{level}.hits"], ok[f"tlb.{level}.misses"]
    data = ok.assign(_rate=100.0 * misses / (hits + misses).where(hits + misses > 0))
    groups = list(data.groupby(by, sort=False))
    for i, (name, group) in enumerate(groups):
        group = group.sort_values(size)
        label = _series_label(by, name)
        # Series that coincide stay visible: each its own marker and dash, drawn thinner
        # and smaller than the one before it, on top of it.
        ax.plot(group[size], group["_rate"], label=label, **_series_style(i, len(groups)))
    ax.set_xscale("log", base=2)
    ax.set_xlabel(f"{size} (entries)")
    ax.set_ylabel(f"{level} TLB miss rate (%)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(title=by if isinstance(by, str) else ", ".join(by))
    return fig


def walk_grid(result, ax=None, title: str | None = None):
    """Nested mode: references per (guest level, EPT level) cell, as a heat map with the
    counts written in (rows: guest level 4..0, 0 = the data GPA; columns: EPT level 0..4,
    0 = the guest entry itself)."""
    grid = result.walk_grid()
    if grid is None:
        raise ValueError("walk_grid: not a nested-mode result (no walker.cells.*)")
    fig, ax = _axes(ax, figsize=(4.5, 4))
    guest_levels = max(g for g in range(6) if grid[g].any()) if grid.any() else 4
    host_levels = max(h for h in range(6) if grid[:, h].any()) if grid.any() else 4
    rows = list(range(guest_levels, -1, -1))
    cells = grid[np.ix_(rows, range(host_levels + 1))].astype(float)
    walks = max(result.stats.get("walker.walks", 0), 1)
    per_walk = cells / walks
    im = ax.imshow(per_walk, cmap="viridis", aspect="auto")
    for i in range(per_walk.shape[0]):
        for j in range(per_walk.shape[1]):
            if (rows[i], j) != (0, 0):
                ax.text(j, i, f"{per_walk[i, j]:.2f}", ha="center", va="center",
                        color="w" if per_walk[i, j] < per_walk.max() / 2 else "k", fontsize=8)
    ax.set_xticks(range(host_levels + 1), ["guest\nentry"] + [f"EPT L{h}" for h in
                                                               range(1, host_levels + 1)])
    ax.set_yticks(range(len(rows)), [f"guest L{g}" if g else "data GPA" for g in rows])
    ax.set_title(title or "references per walk, by cell")
    fig.colorbar(im, ax=ax, label="references per walk")
    return fig


def refs_per_walk(result, ax=None, title: str | None = None):
    """Histogram of page-table references per walk; a nested-mode result also gets its 2D
    grid beside it (then `ax` is ignored and a new two-panel figure is made)."""
    nested = result.walk_grid() is not None
    if nested:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    else:
        fig, ax = _axes(ax, figsize=(6, 4))
    lows, counts = result.histogram("walker.refs_per_walk")
    last = int(np.max(np.flatnonzero(counts))) + 1 if counts.any() else 1
    ax.bar(lows[:last], counts[:last], width=0.8)
    mean = result.stats["walker.refs"] / max(result.stats["walker.walks"], 1)
    ax.axvline(mean, color="C3", linestyle="--", label=f"mean {mean:.2f}")
    ax.set_xlabel("page-table references in one walk")
    ax.set_ylabel("walks")
    ax.set_title(title or f"{result.label} ({result.mode})")
    ax.legend()
    if nested:
        walk_grid(result, ax=ax2)
    return fig


def _grid_keys(df) -> list[str]:
    """The keys a sweep DataFrame swept (pysim.sweep records them in df.attrs; a frame
    without them: the columns between "trace" and "status")."""
    keys = df.attrs.get("grid_keys") if hasattr(df, "attrs") else None
    if keys is None and "trace" in df.columns and "status" in df.columns:
        cols = list(df.columns)
        keys = cols[cols.index("trace") + 1:cols.index("status")]
    return [k for k in (keys or []) if k in df.columns]


def _row_label(row, keys: list[str], varying: set[str]) -> str:
    """A sweep row's label: its trace (when several), then key=value for each swept key
    whose value varies between the rows."""
    parts = [str(row["trace"])] if "trace" in varying else []
    parts += [f"{k}={row[k]}" for k in keys if k in varying]
    return ", ".join(parts) or str(row.get("trace", ""))


def _records(results) -> list[tuple[str, Mapping[str, Any]]]:
    if hasattr(results, "iterrows"):  # a sweep DataFrame: label rows by what was swept
        ok = results[results["status"] == "ok"] if "status" in results else results
        keys = _grid_keys(ok)
        varying = {c for c in ["trace", *keys] if c in ok and ok[c].astype(str).nunique() > 1}
        if "mode" in ok and "mode" not in keys and ok["mode"].astype(str).nunique() > 1:
            keys, varying = ["mode", *keys], varying | {"mode"}
        return [(_row_label(row, keys, varying), row) for _, row in ok.iterrows()]
    if isinstance(results, Mapping):
        return [(str(k), getattr(v, "stats", v)) for k, v in results.items()]
    return [(f"{r.label} ({r.mode})", r.stats) for r in results]


def cycle_causes(stats: Mapping[str, Any]) -> dict[str, float]:
    """One run's cycles split by cause (they add up to sim.cycles):

    work              core.cycles_per_access per access (not translation)
    TLB lookups       TLB latencies and whatever else translation cost (the remainder)
    page walks        the references of hardware walks (walker.cycles)
    page faults       the (guest) kernel's fault handling (os.cycles / guest.cycles)
    VM exits          exits, KVM and the host behind page faults: EPT violations, shadow
                      page faults, host faults (sim.fault_cycles minus the kernel's)
    exits for events  shadow mode's exits for CR3 writes, INVLPG, PTE writes
                      (sim.event_cycles)
    """
    def get(key):
        v = stats.get(key, 0) if hasattr(stats, "get") else 0
        return 0.0 if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)

    total, translation = get("sim.cycles"), get("sim.translation_cycles")
    walks, faults, events = get("walker.cycles"), get("sim.fault_cycles"), get(
        "sim.event_cycles")
    kernel = get("os.cycles") or get("guest.cycles")
    kernel = min(kernel, faults)
    return {"work": total - translation,
            "TLB lookups": max(translation - walks - faults - events, 0.0),
            "page walks": walks,
            "page faults": kernel,
            "VM exits": faults - kernel,
            "exits for events": events}


def cycles_by_cause(results, ax=None, per_access: bool = True, title: str | None = None):
    """Stacked bars of cycle_causes() for several runs: a dict label -> Result, a list of
    Results, or a sweep DataFrame. Per access by default (per_access=False: totals)."""
    records = _records(results)
    fig, ax = _axes(ax, figsize=(max(5, 1.3 * len(records) + 2), 4))
    causes = [(label, cycle_causes(s), max(float(s.get("sim.accesses", 1) or 1), 1))
              for label, s in records]
    names = list(causes[0][1]) if causes else []
    bottom = np.zeros(len(causes))
    for i, name in enumerate(names):
        values = np.array([c[name] / (n if per_access else 1) for _, c, n in causes])
        if not values.any():
            continue
        ax.bar(range(len(causes)), values, bottom=bottom, label=name, color=f"C{i}")
        bottom += values
    ax.set_xticks(range(len(causes)), [label for label, _, _ in causes], rotation=20,
                  ha="right")
    ax.set_ylabel("cycles per access" if per_access else "cycles")
    ax.set_title(title or "cycles by cause")
    ax.legend(fontsize=8)
    return fig


_KIND_ORDER = ["TLB miss", "page fault", "guest page fault", "shadow page fault",
               "EPT violation", "TLB fill", "invalidation", "host aging", "host eviction",
               "host refault", "MMIO", "other"]


def page_timeline(result, ax=None, title: str | None = None):
    """The life of the page run(..., trace_page=ADDRESS) followed: each step at its trace
    record, one row per kind of step (TLB miss, faults, EPT violation, fill, host aging,
    eviction, refault, invalidation)."""
    life = result.page_life
    life = life[life["kind"] != "TLB hits"]
    if life.empty:
        raise ValueError("page_timeline: no page-life steps (pass trace_page= to run)")
    kinds = [k for k in _KIND_ORDER if k in set(life["kind"])]
    fig, ax = _axes(ax, figsize=(9, 0.45 * len(kinds) + 1.6))
    for i, kind in enumerate(kinds):
        at = life[life["kind"] == kind]["record"]
        ax.scatter(at, np.full(len(at), i), marker="|", s=250, color=f"C{i % 10}")
    ax.set_yticks(range(len(kinds)), kinds)
    ax.set_ylim(-0.7, len(kinds) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel("trace record")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title or f"life of one page: {result.label} ({result.mode})")
    return fig


def timeseries(result, ax=None, title: str | None = None):
    """Over the run, per interval of ``sim.interval`` accesses: the L1d and STLB miss rates
    (misses per lookup, percent, left axis) and translation cycles per access (right axis).
    The warm-up, when there was one, is where the cold-start faults show."""
    df = result.timeseries
    if df is None:
        raise ValueError("this run has no time series: run it with sim__interval=N "
                         "(replay --interval N)")
    fig, ax = _axes(ax, figsize=(7, 3.5))
    x = df.index.to_numpy()
    for level, label in (("l1d", "L1d miss rate"), ("l2", "STLB miss rate")):
        lookups = df.get(f"tlb.{level}.hits", 0) + df.get(f"tlb.{level}.misses", 0)
        rate = 100.0 * df[f"tlb.{level}.misses"] / np.maximum(lookups, 1)
        ax.plot(x, rate, marker=".", label=label)
    ax.set_xlabel("accesses replayed")
    ax.set_ylabel("miss rate (%)")
    ax.set_ylim(0, 105)  # the whole scale: a narrow one would magnify noise
    right = ax.twinx()
    per_access = df["sim.translation_cycles"] / np.maximum(df["sim.accesses"], 1)
    right.plot(x, per_access, color="black", linestyle="--", marker=".",
               label="translation cycles / access")
    right.set_ylabel("translation cycles per access")
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="center right", fontsize=8)
    ax.set_title(title or f"{result.label} ({result.mode}), every "
                          f"{df.attrs.get('interval', '?'):,} accesses")
    return fig
