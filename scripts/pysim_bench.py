#!/usr/bin/python3
"""pysim's overhead: pysim.run against `pagesim replay` on the same 10^7-access traces.

    scripts/pysim_bench.py [--build build] [--count 10000000] [--repeat 5]

Cases (binary traces written once into BUILD/bench-traces, as scripts/bench.sh does):
  (a) native, sequential 8-byte steps through 64 MiB: a fast replay (tenths of a second),
      where any fixed cost of pysim shows most;
  (b) native, uniform random over 64 GiB: seconds of simulation;
  (a') the same accesses as (a) handed over as a numpy array (pysim.run(array)) against
      the CLI on the file; the statistics must be equal.
Each repetition runs the CLI (a whole process: `pagesim replay TRACE`) and pysim.run
(from the call to the Result, its worker process included) back to back; the table shows
for each the median and the fastest whole call, the median of the replay alone ("sim":
the CLI's "host time", Result.wall_seconds: the same sc_start interval), and pysim's
median whole call over the CLI's. The first pysim run
of the session is timed apart ("cold"): later runs find a spare worker already started.
Wall-clock time on a shared machine varies from run to run: compare the two columns of
one invocation, not figures from different days.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--count", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    sys.path.insert(0, os.path.join(build, "python"))
    import pysim

    pagesim = os.path.join(build, "sim", "pagesim")
    traces = os.path.join(build, "bench-traces")
    os.makedirs(traces, exist_ok=True)

    def gen(name, pattern, footprint):
        path = os.path.join(traces, f"{name}-{args.count}.pgt")
        if not os.path.exists(path):
            subprocess.run([pagesim, "trace", "gen", pattern, "--count", str(args.count),
                            "--footprint", footprint, "--seed", "1", "--out", path],
                           check=True, capture_output=True)
        return path

    seq = gen("seq", "sequential", "64MiB")
    rnd = gen("uniform", "uniform", "64GiB")
    base = 0x7F00_0000_0000
    seq_array = base + (np.arange(args.count, dtype=np.uint64) % ((64 << 20) // 8)) * 8

    def cli(trace):
        """(seconds of the whole process, seconds of the replay by its summary)"""
        start = time.perf_counter()
        out = subprocess.run([pagesim, "replay", trace, "--progress", "never"], check=True,
                             capture_output=True, text=True).stdout
        total = time.perf_counter() - start
        return total, float(re.search(r"host time\s+([0-9.]+) s", out).group(1))

    def py(trace):
        start = time.perf_counter()
        result = pysim.run(trace, progress=False)
        return time.perf_counter() - start, result

    cold, first = py(seq)
    print(f"pysim.run cold (first run of the session, case a): {cold:.3f} s")
    json_out = os.path.join(traces, "cli-seq.json")
    subprocess.run([pagesim, "replay", seq, "-q", "--json", json_out], check=True)
    import json
    with open(json_out) as f:
        assert first.stats == json.load(f), "pysim.run(file) differs from the CLI"

    print(f"{'case':32} {'CLI':>7} {'min':>6} {'(sim)':>7} {'pysim':>7} {'min':>6} "
          f"{'(sim)':>7} {'pysim/CLI':>9}")
    for name, cli_trace, py_trace in [("(a) native sequential 64 MiB", seq, seq),
                                      ("(a') the same as a numpy array", seq, seq_array),
                                      ("(b) native uniform 64 GiB", rnd, rnd)]:
        repeat = args.repeat if name[1] != "b" else max(2, args.repeat // 2)
        t_cli, s_cli, t_py, s_py = [], [], [], []
        for _ in range(repeat):
            total, sim = cli(cli_trace)
            t_cli.append(total)
            s_cli.append(sim)
            seconds, result = py(py_trace)
            t_py.append(seconds)
            s_py.append(result.wall_seconds)
        if py_trace is seq_array:
            assert result.stats == first.stats, "pysim.run(array) differs from the file"
        med = statistics.median
        print(f"{name:32} {med(t_cli):7.3f} {min(t_cli):6.3f} {med(s_cli):7.3f} "
              f"{med(t_py):7.3f} {min(t_py):6.3f} {med(s_py):7.3f} "
              f"{100 * (med(t_py) / med(t_cli) - 1):+8.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
