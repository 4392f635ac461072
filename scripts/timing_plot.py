#!/usr/bin/python3
"""Plots `pagesim-validate --timing --json FILE`: time per load against footprint, measured
and predicted, on 4 KiB pages and on transparent huge pages (docs/validation.md, "Timing").

    scripts/timing_plot.py timing.json timing.png

Debian's python3 with python3-matplotlib (scripts/packages.txt), as pysim.plot uses.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        data = json.load(f)
    points = data["points"]
    kib = [p["footprint_bytes"] / 1024 for p in points]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for kind, colour in (("4k", "tab:red"), ("thp", "tab:blue")):
        label = "4 KiB pages" if kind == "4k" else "transparent huge pages"
        ax.plot(kib, [p[f"measured_ns_{kind}"] for p in points], "o-", color=colour,
                label=f"{label}, measured")
        ax.plot(kib, [p[f"predicted_ns_{kind}"] for p in points], "s--", color=colour,
                alpha=0.7, label=f"{label}, predicted")
    cal = data["calibration_ns"]
    for level, ns in cal.items():
        ax.axhline(ns, color="grey", lw=0.5, ls=":")
        ax.annotate(level.upper(), (kib[0], ns), fontsize=7, color="grey",
                    xytext=(2, 2), textcoords="offset points")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("footprint (KiB)")
    ax.set_ylabel("time per dependent load (ns)")
    where = "in a KVM guest, " if data.get("measured_in") == "kvm-guest" else ""
    mode = data.get("prediction_mode", "native")
    ax.set_title(f"pagesim-validate --timing ({where}predicted in {mode} mode, "
                 f"TSC {data['tsc_ghz']:.3f} GHz)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(argv[2], dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
