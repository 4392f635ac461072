"""pysim: pagesim from Python.

    import pysim
    cfg = pysim.Config(mode="nested", tlb__l2__entries=2048)
    r = pysim.run("gen:uniform:count=1000000,footprint=256MiB", cfg)
    r.stats["walker.refs"], r.to_pandas(), r.histogram("walker.refs_per_walk")
    df = pysim.sweep({"mode": ["nested", "shadow"]}, ["trace.pgt", "gen:zipf:count=1e6"])
    pysim.plot.refs_per_walk(r)

Every run executes in a fresh worker process (SystemC elaborates once per process), so
runs in one interpreter are independent and repeatable. docs/pysim.md has the details.
"""

from ._config import Config, ConfigError, presets, schema
from ._run import Result, SimulationError, TraceError, run
from ._sweep import sweep

__all__ = ["Config", "ConfigError", "presets", "schema", "run", "Result", "TraceError",
           "SimulationError", "sweep", "plot"]


def __getattr__(name):
    # pysim.plot imports matplotlib: only when asked for.
    if name == "plot":
        import importlib
        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module 'pysim' has no attribute {name!r}")
