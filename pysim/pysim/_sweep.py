"""pysim.sweep: configurations x traces as one DataFrame, on Dask distributed."""

from __future__ import annotations

import itertools
import os
import warnings
from typing import Any, Iterable, Mapping

from ._config import Config, keyword_to_key

__all__ = ["sweep", "points_of"]


def points_of(grid: Mapping[str, Iterable[Any]] | Iterable[Mapping[str, Any]] | None
              ) -> list[dict[str, Any]]:
    """The configuration points of a grid: a dict key -> values gives their cross product
    (in the order given, last key fastest); a list of dicts gives those points as they are.
    Keys are dotted (``"tlb.l2.entries"``) or keyword style (``tlb__l2__entries``)."""
    if grid is None:
        return [{}]
    if isinstance(grid, Mapping):
        keys = [keyword_to_key(k) for k in grid]
        values = []
        for k, v in grid.items():
            if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
                v = [v]
            values.append(list(v))
        return [dict(zip(keys, combo)) for combo in itertools.product(*values)]
    return [{keyword_to_key(k): v for k, v in p.items()} for p in grid]


def _traces_of(traces: Any) -> list[tuple[str, Any]]:
    """(label, trace) pairs: a dict label -> trace, one trace, or a list of them."""
    if isinstance(traces, Mapping):
        return [(str(k), v) for k, v in traces.items()]
    if isinstance(traces, (str, os.PathLike)) or hasattr(traces, "dtype") or \
            hasattr(traces, "columns"):
        traces = [traces]
    out = []
    for i, t in enumerate(traces):
        if isinstance(t, (str, os.PathLike)):
            out.append((os.fspath(t), t))
        else:
            out.append((f"array{i}", t))
    return out


def _run_point(point: dict, base: Config | None, label: str, trace: Any,
               run_kwargs: dict) -> dict:
    """One row of the sweep (runs on a Dask worker, or here when serial). Never raises:
    a failing point is a row with status "error" and the message."""
    from ._run import run
    import time
    row: dict[str, Any] = {"trace": label, **point}
    started = time.monotonic()
    try:
        keys = dict(point)
        preset = keys.pop("preset", None)  # an axis over CPU presets (Config(preset=...))
        cfg = Config(base, preset=preset) if base is not None else Config(preset=preset)
        cfg = cfg.replace(keys) if keys else cfg
        result = run(trace, cfg, label=label, progress=False, **run_kwargs)
    except Exception as e:  # noqa: BLE001 - reported in the row
        row.update(status="error", error=f"{type(e).__name__}: {e}", partial=False,
                   wall_seconds=time.monotonic() - started)
        return row
    row.update(status="partial" if result.partial else "ok", error=None,
               partial=result.partial, wall_seconds=time.monotonic() - started)
    row.update(result.scalars())
    return row


def _frame(rows: list[dict], point_keys: list[str]):
    import pandas as pd
    df = pd.DataFrame(rows)
    fixed = ["trace", *point_keys, "status", "error", "partial", "wall_seconds"]
    stats = sorted(c for c in df.columns if c not in fixed)
    return df.reindex(columns=fixed + stats)


def sweep(grid: Any, traces: Any, client: Any = None, *, config: Config | None = None,
          serial: bool = False, progress: bool = True, **run_kwargs: Any):
    """Runs every configuration point of `grid` on every trace of `traces`.

    grid: {key: [values]} (cross product) or [{key: value}, ...] (points), applied on top
      of `config` (default: the defaults); the key "preset" sweeps CPU presets
      (``{"preset": ["skylake-sp", "zen4"]}``: Config(preset=...), under the other keys).
      traces: a path, spec or array, a list of them,
      or {label: trace}.
    client: None runs on a fresh Dask distributed LocalCluster in this process, one thread
      per core, closed afterwards: each run is already a process of its own (pysim.run's
      worker), so the cluster starts no Python process and never re-imports the caller's
      script (a script needs no `if __name__ == "__main__":` guard, and stdin and
      notebooks work alike). A distributed.Client or a scheduler address
      ("tcp://host:8786") runs on that cluster (its workers must import pysim:
      PYTHONPATH=<build>/python). serial=True runs here, one after the other.

    Raises ConfigError, before anything runs, for a grid key the schema does not have (a
    bad value is a row's error instead).

    Returns a DataFrame, one row per (point, trace) in grid order then trace order:
    trace, the grid's keys, status ("ok", "error", "partial", "not run"), error (the
    message of a failing point; the other points still complete), partial, wall_seconds
    (the run's wall time), then every counter and formula of the run. The same grid gives
    the same frame serially and on any cluster (wall_seconds aside): each run is a fresh,
    deterministic process.
    """
    points = points_of(grid)
    _check_keys(points, config)
    point_keys = list(dict.fromkeys(k for p in points for k in p))
    pairs = _traces_of(traces)
    tasks = [(p, label, t) for p in points for label, t in pairs]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(tasks), unit="run", desc="pysim.sweep", leave=False)
    try:
        if serial:
            rows = _sweep_serial(tasks, config, run_kwargs, bar)
        else:
            rows = _sweep_dask(tasks, config, run_kwargs, bar, client)
    finally:
        if bar is not None:
            bar.close()
    df = _frame(rows, point_keys)
    df.attrs["grid_keys"] = point_keys  # the plots label rows and lines by them
    if (df["status"] == "not run").any() or (df["status"] == "partial").any():
        df.attrs["interrupted"] = True
        warnings.warn("pysim.sweep interrupted: rows with status 'partial' or 'not run'",
                      RuntimeWarning, stacklevel=2)
    return df


def _check_keys(points: list[dict], config: Config | None) -> None:
    from ._config import ConfigError
    known = set((config if config is not None else Config()).keys()) | {"preset"}
    unknown = sorted({k for p in points for k in p if k not in known})
    if unknown:
        raise ConfigError("pysim.sweep: grid key(s) not in the configuration schema: " +
                          ", ".join(unknown) + " (pysim.schema() lists the keys)", unknown)


def _not_run(point: dict, label: str) -> dict:
    return {"trace": label, **point, "status": "not run", "error": None, "partial": False,
            "wall_seconds": None}


def _sweep_serial(tasks, config, run_kwargs, bar) -> list[dict]:
    rows: list[dict] = []
    for point, label, trace in tasks:
        if rows and rows[-1]["status"] == "partial":  # Ctrl-C stopped the last run
            rows.append(_not_run(point, label))
            continue
        rows.append(_run_point(point, config, label, trace, run_kwargs))
        if bar is not None:
            bar.update(1)
    return rows


def _sweep_dask(tasks, config, run_kwargs, bar, client) -> list[dict]:
    from distributed import Client, LocalCluster, as_completed

    own_cluster = own_client = None
    if client is None:
        # Threads, not processes: each task's pysim.run starts a simulation process of its
        # own and waits for it, so one worker thread per core keeps the cores busy, the
        # cluster starts in about a second, and no process re-imports __main__ (Dask's
        # worker processes are spawned, and spawning runs an unguarded script again).
        own_cluster = LocalCluster(n_workers=1, threads_per_worker=os.cpu_count() or 1,
                                   processes=False, dashboard_address=None)
        client = own_client = Client(own_cluster)
    elif isinstance(client, str):
        client = own_client = Client(client)
    futures = []
    try:
        # Arrays go to the cluster once, not once per point.
        shared: dict[int, Any] = {}
        for _, _, trace in tasks:
            if not isinstance(trace, (str, os.PathLike)) and id(trace) not in shared:
                shared[id(trace)] = client.scatter(trace, broadcast=False)
        for point, label, trace in tasks:
            futures.append(client.submit(_run_point, point, config, label,
                                         shared.get(id(trace), trace), run_kwargs,
                                         pure=False))
        rows: list[dict | None] = [None] * len(tasks)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures):
                i = index[future.key]
                if future.status == "finished":
                    rows[i] = future.result()
                else:  # the worker died: report it in the row
                    point, label, _ = tasks[i]
                    rows[i] = {"trace": label, **point, "status": "error",
                               "error": f"{type(future.exception()).__name__}: "
                                        f"{future.exception()}", "partial": False,
                               "wall_seconds": None}
                if bar is not None:
                    bar.update(1)
        except KeyboardInterrupt:
            client.cancel([f for f in futures if not f.done()])
        return [r if r is not None else _not_run(tasks[i][0], tasks[i][1])
                for i, r in enumerate(rows)]
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
