"""pysim.run: one simulation, in a worker process of its own; its Result."""

from __future__ import annotations

import atexit
import os
import pickle
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from typing import Any, Mapping

import numpy as np

from . import _pysim
from ._config import Config, ConfigError, _keys_of_message, keyword_to_key

__all__ = ["run", "Result", "TraceError", "SimulationError", "PYTHON"]

#: The interpreter workers run on: the one running pysim (Debian's /usr/bin/python3).
PYTHON = sys.executable or "/usr/bin/python3"

_HEADER = struct.Struct("<Q")
_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_worker.py")


class TraceError(RuntimeError):
    """The trace could not be opened or read; the message names the file and the line or
    byte (the simulator's own message, as the CLI prints it)."""


class SimulationError(RuntimeError):
    """The simulation failed for another reason (out of memory, a model error), or its
    worker process died; the message says what the worker reported."""


_ERRORS = {"TraceError": TraceError, "ValueError": ValueError, "TypeError": TypeError,
           "MemoryError": MemoryError}


# -- traces ------------------------------------------------------------------------------

_KIND_CODES = {"R": 0, "W": 1, "X": 2, "r": 0, "w": 1, "x": 2}


def _kinds_array(kinds: Any, n: int) -> np.ndarray:
    a = np.asarray(kinds)
    if a.shape != (n,):
        raise ValueError(f"kinds: shape {a.shape} for {n} addresses")
    if a.dtype.kind in "USO":
        codes = np.full(n, 255, dtype=np.uint8)
        for letter, code in _KIND_CODES.items():
            codes[a == letter] = code
        bad = np.flatnonzero(codes == 255)
        if bad.size:
            raise ValueError(f"kinds: element {bad[0]}: {a[bad[0]]!r} is not R, W or X")
        return codes
    if a.dtype.kind not in "iub":
        raise ValueError(f"kinds: dtype {a.dtype}: expected R/W/X letters or 0/1/2")
    bad = np.flatnonzero((a < 0) | (a > 2))
    if bad.size:
        raise ValueError(f"kinds: element {bad[0]}: {a[bad[0]]} is not 0 (R), 1 (W) or 2 (X)")
    return a.astype(np.uint8, copy=False)


def _array_trace(trace: Any, kinds: Any, sizes: Any) -> tuple[dict, str] | None:
    """(arrays to hand over, description) if `trace` is an in-memory trace, else None."""
    if hasattr(trace, "columns") and "address" in getattr(trace, "columns"):
        kinds = trace["kind"].to_numpy() if "kind" in trace.columns and kinds is None else kinds
        sizes = trace["size"].to_numpy() if "size" in trace.columns and sizes is None else sizes
        trace = trace["address"].to_numpy()
    if isinstance(trace, (str, os.PathLike)):
        return None
    a = np.asarray(trace)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise TypeError("trace: expected a path, a 'gen:...' spec, or a 1-D array of integer "
                        f"addresses (got {type(trace).__name__} of shape {a.shape}, "
                        f"dtype {a.dtype})")
    if a.dtype.kind == "i" and a.size and a.min() < 0:
        raise ValueError("trace: negative address in the array")
    arrays = {"addresses": np.ascontiguousarray(a, dtype=np.uint64)}
    if kinds is not None:
        arrays["kinds"] = np.ascontiguousarray(_kinds_array(kinds, a.size))
    if sizes is not None:
        s = np.asarray(sizes)
        if s.shape != a.shape:
            raise ValueError(f"sizes: shape {s.shape} for {a.size} addresses")
        if s.size and (s.min() < 1 or s.max() > 0xFFFFFFFF):
            raise ValueError("sizes: every access size is 1 byte to 4 GiB - 1")
        arrays["sizes"] = np.ascontiguousarray(s, dtype=np.uint32)
    return arrays, f"array of {a.size:,} accesses"


def _scratch_dir() -> str | None:
    # Arrays reach the worker through files it maps: tmpfs when there is one.
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


# -- the result --------------------------------------------------------------------------

_PAGE_LIFE = re.compile(r"^page-life: record (\d+)\s+(.*)$")
_PAGE_LIFE_KINDS = [  # (kind, pattern), first match wins; the words of sim/page_life.cc
    ("TLB hits", r"further accesses hit the TLB"),
    ("TLB miss", r"page walk$"),
    ("TLB fill", r"^TLB fill"),
    ("shadow page fault", r"^shadow page fault"),
    ("guest page fault", r"^guest page fault"),
    ("page fault", r"^page fault"),
    ("EPT violation", r"^EPT violation"),
    ("host aging", r"^host reclaim (scans|clears)"),
    ("host eviction", r"^host evicts"),
    ("host refault", r"^host refault"),
    ("MMIO", r"MMIO"),
    ("invalidation", r"INVLPG|invalidat|zap|flush|memslot|drops"),
]


def _page_life_kind(text: str) -> str:
    for kind, pattern in _PAGE_LIFE_KINDS:
        if re.search(pattern, text):
            return kind
    return "other"


class Result:
    """The statistics of one run.

    ``stats``: every statistic by dotted path (int counters, float formulas, histograms as
    {bin label: count}), from the same registry as the CLI's --json. ``partial`` is True
    when the run was stopped (KeyboardInterrupt) before the trace's end: the statistics
    are then those of the ``records`` replayed.
    """

    def __init__(self, raw: Mapping[str, Any], config: Config, label: str | None,
                 total_seconds: float):
        self.stats: dict[str, Any] = {}
        self.descriptions: dict[str, str] = {}
        for path, description, value in raw["stats"]:
            self.stats[path] = dict(value) if isinstance(value, list) else value
            self.descriptions[path] = description
        self.config = config
        self.mode: str = raw["mode"]
        self.trace: str = raw["trace"]
        self.label = label if label is not None else raw["trace"]
        self.partial: bool = bool(raw["partial"])
        self.records: int = int(raw["records"])
        #: host seconds of the simulation itself (sc_start), and of the whole call
        self.wall_seconds: float = float(raw["wall_seconds"])
        self.total_seconds = total_seconds
        self.page_life_text: str = raw.get("page_life", "")
        self._timeseries = raw.get("timeseries")

    def __getitem__(self, path: str) -> Any:
        return self.stats[path]

    def __repr__(self) -> str:
        acc = self.stats.get("sim.accesses", 0)
        return (f"<pysim.Result {self.label!r} mode={self.mode} accesses={acc:,} "
                f"cycles={self.stats.get('sim.cycles', 0):,}{' PARTIAL' if self.partial else ''}>")

    @property
    def timeseries(self):
        """The run's counters over time (``interval=N``, the key sim.interval): a DataFrame
        with one row per interval of N accesses (the last one shorter), indexed by the
        accesses replayed at its end, one column per counter holding its delta over the
        interval. The warm-up is included. None when the run had no interval."""
        if not self._timeseries or not self._timeseries[1]:
            return None
        import pandas as pd
        interval, accesses, names, deltas = self._timeseries
        df = pd.DataFrame(deltas, columns=list(names),
                          index=pd.Index(list(accesses), name="accesses"))
        df.attrs["interval"] = interval
        return df

    def scalars(self) -> dict[str, int | float]:
        """Counters and formulas (no histograms)."""
        return {k: v for k, v in self.stats.items() if not isinstance(v, dict)}

    def to_pandas(self):
        """One row: the label, mode, partial flag and every counter and formula."""
        import pandas as pd
        row = {"trace": self.label, "mode": self.mode, "partial": self.partial}
        row.update(self.scalars())
        return pd.DataFrame([row])

    @property
    def histograms(self) -> dict[str, np.ndarray]:
        """Every histogram's counts, by path, as integer arrays."""
        return {k: np.array(list(v.values()), dtype=np.int64)
                for k, v in self.stats.items() if isinstance(v, dict)}

    def histogram(self, path: str) -> tuple[np.ndarray, np.ndarray]:
        """(lower bound of each bin, count of each bin) as arrays; the last bin is open."""
        bins = self.stats[path]
        lows = np.array([int(label.lstrip(">=")) for label in bins], dtype=np.int64)
        return lows, np.array(list(bins.values()), dtype=np.int64)

    def walk_grid(self) -> np.ndarray | None:
        """Nested mode: references per (guest level g, EPT level h) cell as a 6x6 array
        indexed [g, h] (``walker.cells.gXhY``); None in the other modes."""
        if "walker.cells.g1h1" not in self.stats:
            return None
        grid = np.zeros((6, 6), dtype=np.int64)
        for g in range(6):
            for h in range(6):
                grid[g, h] = self.stats.get(f"walker.cells.g{g}h{h}", 0)
        return grid

    @property
    def page_life(self):
        """With run(..., trace_page=ADDRESS): the page's life as a DataFrame (record, kind,
        event), one row per line `pagesim replay --trace-page` prints."""
        import pandas as pd
        rows = []
        for line in self.page_life_text.splitlines():
            m = _PAGE_LIFE.match(line)
            if m:
                rows.append({"record": int(m.group(1)), "kind": _page_life_kind(m.group(2)),
                             "event": m.group(2)})
        return pd.DataFrame(rows, columns=["record", "kind", "event"])


# -- the worker --------------------------------------------------------------------------

class _Worker:
    """One worker process and its framed pipes. It starts at once (Python, the extension)
    and waits for its one request."""

    def __init__(self):
        env = dict(os.environ)
        env["SYSTEMC_DISABLE_COPYRIGHT_MESSAGE"] = "1"
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([PYTHON, "-S", _WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        self._buffer = bytearray()

    def send(self, message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(_HEADER.pack(len(data)) + data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # the worker ended; what it said is in its output

    def receive(self) -> Any:
        """The next message, or None when the worker's output ends."""
        fd = self.proc.stdout.fileno()
        while True:
            if len(self._buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(self._buffer)
                if len(self._buffer) >= _HEADER.size + size:
                    body = bytes(self._buffer[_HEADER.size:_HEADER.size + size])
                    del self._buffer[:_HEADER.size + size]
                    return pickle.loads(body)
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip()

    def close(self, kill: bool = False) -> None:
        if kill and self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait()
        self.proc.stdout.close()
        self._stderr.close()


# A spare worker, started when a run ends, so that the next run does not wait for an
# interpreter to start and load the extension (20-30 ms; it matters for short runs).
# Still one fresh process per simulation: the spare has elaborated nothing. Off with
# PYSIM_SPARE_WORKER=0. The spare sees os.environ as it was when it started.
_spare_lock = threading.Lock()
_spare: _Worker | None = None


def _take_worker() -> _Worker:
    global _spare
    with _spare_lock:
        worker, _spare = _spare, None
    if worker is not None:
        if worker.proc.poll() is None:
            return worker
        worker.close()
    return _Worker()


def _leave_spare() -> None:
    global _spare
    if os.environ.get("PYSIM_SPARE_WORKER", "1") == "0":
        return
    with _spare_lock:
        if _spare is None:
            _spare = _Worker()


@atexit.register
def _close_spare() -> None:
    global _spare
    with _spare_lock:
        worker, _spare = _spare, None
    if worker is not None:
        worker.close()  # end of input: the worker exits


class _Interrupts:
    """While a run is in progress in the main thread: Ctrl-C (SIGINT) sets a flag instead of
    raising, so the run can ask its worker to stop and collect the partial statistics."""

    def __init__(self, on_first):
        self.count = 0
        self._on_first = on_first
        self._previous = None

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.count += 1
        if self.count == 1:
            self._on_first()
        else:  # a second Ctrl-C: give up on the partial statistics
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def run(trace: Any, config: Config | Mapping[str, Any] | str | None = None, *,
        kinds: Any = None, sizes: Any = None, trace_page: int | None = None,
        progress: bool | str = "auto", label: str | None = None, **overrides: Any) -> Result:
    """Replays `trace` on `config` (plus keyword overrides) in a fresh worker process.

    trace: a path (text or binary trace), a generator spec ``"gen:uniform:count=...``, or a
      1-D integer array of addresses (GVAs) with optional ``kinds`` (R/W/X letters or
      0/1/2) and ``sizes`` (bytes, default 8), or a DataFrame with columns address[, kind,
      size]. An array replays exactly as the same accesses in a text trace would.
    config: a Config, a dict of dotted keys or a TOML path; ``overrides`` go on top
      (``tlb__l2__entries=2048`` is ``tlb.l2.entries``).
    trace_page: follow the 4 KiB page holding this GVA (``Result.page_life``).
    progress: a tqdm bar on stderr for runs longer than a second ("auto"), always (True)
      or never (False).

    Ctrl-C (KeyboardInterrupt) stops the simulation at its next batch of records and
    returns the statistics so far with ``Result.partial`` set (a second Ctrl-C abandons
    the run and raises KeyboardInterrupt). Raises ConfigError for a bad key or value
    (naming it), TraceError for a trace that cannot be read.
    """
    if isinstance(config, Config):
        cfg = config.replace(**overrides) if overrides else config
    else:
        cfg = Config(config, **overrides)
    array = _array_trace(trace, kinds, sizes)
    if array is None and (kinds is not None or sizes is not None):
        raise ValueError("kinds= and sizes= go with an array trace, not a path or a spec")
    request = {"preset": cfg.preset_values(), "config_file": cfg.file,
               "assignments": cfg.assignments(),
               "trace": None if array else os.fspath(trace), "arrays": None,
               "trace_page": trace_page, "progress_interval": 0.25}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pysim-", dir=_scratch_dir()) as scratch:
        if array is not None:
            arrays, request["array_name"] = array
            request["arrays"] = {}
            for name, a in arrays.items():
                path = os.path.join(scratch, name)
                a.tofile(path)
                request["arrays"][name] = path
        raw = _execute(request, progress)
    total = time.perf_counter() - start
    result = Result(raw, cfg, label, total)
    if result.partial:
        warnings.warn(f"pysim.run interrupted: partial statistics of {result.records:,} "
                      "records (Result.partial is True)", RuntimeWarning, stacklevel=2)
    return result


def _execute(request: dict, progress: bool | str) -> dict:
    worker = _take_worker()
    worker.send(request)
    bar = None
    ok = False
    try:
        with _Interrupts(lambda: worker.send("stop")):
            while True:
                message = worker.receive()
                if message is None:
                    raise SimulationError("the pysim worker ended without a result (exit "
                                          f"status {worker.proc.wait()}): "
                                          f"{worker.stderr_text() or 'no message'}")
                tag = message[0]
                if tag == "start":
                    if progress:
                        from tqdm import tqdm
                        bar = tqdm(total=message[1], unit="rec", unit_scale=True,
                                   desc=f"pysim {message[3]}", delay=0 if progress is True
                                   else 1.0, leave=False, file=sys.stderr)
                elif tag == "progress":
                    if bar is not None:
                        bar.update(message[1] - bar.n)
                elif tag == "result":
                    ok = True
                    return message[1]
                elif tag == "error":
                    _, kind, text = message
                    if kind == "ConfigError":
                        raise ConfigError(text, _keys_of_message(text))
                    raise _ERRORS.get(kind, SimulationError)(text)
    finally:
        if bar is not None:
            bar.close()
        worker.close(kill=not ok)
        # After the run, not during it: on a busy machine a worker starting beside the
        # simulation slows it more than the spare saves.
        _leave_spare()
