#!/usr/bin/python3
"""Runs pysim's notebooks top to bottom through nbclient (make test's py-test step).

    PYTHONPATH=build/python /usr/bin/python3 pysim/run_notebooks.py [--out DIR] [NOTEBOOK...]

Each notebook runs in a fresh kernel with the notebooks folder as its working directory
and PYSIM_OUTPUT=DIR (default build/notebooks), where it saves its PNG figures; the
executed copies (with outputs) go there too. The committed notebooks keep no outputs.
Exit status 1 if a cell fails (the error is printed).
"""

import argparse
import glob
import os
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(HERE, "..", "build", "notebooks"))
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    os.environ["PYSIM_OUTPUT"] = out
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # ipykernel debugger noise
    # The kernels run in the notebooks folder: make the package's path absolute.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
    paths = args.notebooks or sorted(glob.glob(os.path.join(HERE, "notebooks", "*.ipynb")))
    failed = 0
    for path in paths:
        name = os.path.basename(path)
        book = nbformat.read(path, as_version=4)
        start = time.monotonic()
        client = NotebookClient(book, timeout=args.timeout, kernel_name="python3",
                                resources={"metadata": {"path": os.path.dirname(path)}})
        try:
            client.execute()
            status = "ok"
        except CellExecutionError as e:
            status = "FAILED"
            failed += 1
            print(e, file=sys.stderr)
        nbformat.write(book, os.path.join(out, name))
        print(f"notebook {name}: {status} ({time.monotonic() - start:.1f} s)")
    pngs = sorted(glob.glob(os.path.join(out, "*.png")))
    print(f"notebooks: {len(paths) - failed} of {len(paths)} ran; {len(pngs)} figures in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
