"""pytest set-up: the pysim package and the pagesim CLI of one build.

PYSIM_BUILD names the CMake build folder (default: build/ at the top of the repository);
its python/ folder holds the package, sim/pagesim the CLI the tests compare with.
"""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("PYSIM_BUILD", os.path.join(REPO, "build")))
sys.path.insert(0, os.path.join(BUILD, "python"))
PAGESIM = os.path.join(BUILD, "sim", "pagesim")


@pytest.fixture(scope="session")
def pagesim():
    """Runs the CLI: pagesim(*args) -> CompletedProcess (text, never raises)."""
    if not os.access(PAGESIM, os.X_OK):
        pytest.fail(f"{PAGESIM}: no pagesim binary (set PYSIM_BUILD to the build folder)")

    def call(*args):
        return subprocess.run([PAGESIM, *map(str, args)], capture_output=True, text=True)

    return call

os.environ.setdefault("MPLBACKEND", "Agg")  # the plot tests draw off screen
