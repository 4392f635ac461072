#!/usr/bin/env python3
"""ctest pagesim_validate_sample: the method of `pagesim-validate --sample`, not its verdicts.

1. The draw is reproducible through the command line: each of `--sample 20 --seed 1 --list`'s
   scenarios, given back as its one line of options (with --list), is the same scenario.
   Needs no KVM.
2. `--sample 3 --seed 1 --json FILE` runs on this host's KVM and writes a report that parses:
   the seed and count, the three drawn scenarios with their options, every row's verdict
   consistent with its values (a pass only where a prediction and a measurement exist and
   agree within the tolerance; absent never 0), each scenario's status from its rows, the
   exit status 0 exactly when every scenario passed (1 otherwise: mismatches are the
   verdicts' business, not this test's), and the text's seed, per-scenario lines, summary and
   rerun lines. Exit status 77 (no /dev/kvm, tracepoints or permission) is a skip.

usage: sample_report_test.py PAGESIM_VALIDATE
"""
import json
import os
import subprocess
import sys
import tempfile

SKIP = 77
VERDICTS = {"ok", "FAIL", "not modelled", "absent"}
STATUSES = {"pass", "FAIL", "not modelled", "absent"}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check_draw(exe):
    out = subprocess.run([exe, "--sample", "20", "--seed", "1", "--list"], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    if out[0] != "sample of 20, seed 1":
        fail("--list header: " + out[0])
    drawn = {}
    for line in out[1:]:
        name, options = line.split(": ", 1)
        again = subprocess.run([exe] + options.split() + ["--list"], capture_output=True,
                               text=True)
        if again.returncode != 0 or again.stdout.strip() != "custom: " + options:
            fail("%s does not rerun as itself: %s -> %s%s" %
                 (name, options, again.stdout.strip(), again.stderr.strip()))
        drawn[name] = options
    if len(drawn) != 20:
        fail("drew %d scenarios, not 20" % len(drawn))
    return drawn


def check_row(scenario, row):
    where = "%s %s %s" % (scenario["name"], row["phase"], row["counter"])
    if row["verdict"] not in VERDICTS:
        fail(where + ": verdict " + row["verdict"])
    if row["pass"] != (row["verdict"] == "ok"):
        fail(where + ": pass and verdict disagree")
    m, p, tol = row["measured"], row["predicted"], row["tolerance"]
    if row["verdict"] == "ok":
        if m is None or p is None:
            fail(where + ": a pass without a measurement or a prediction")
        if not -tol["below"] <= m - p <= tol["above"]:
            fail(where + ": a pass outside the tolerance")
    if row["verdict"] == "FAIL" and -tol["below"] <= m - p <= tol["above"]:
        fail(where + ": a FAIL within the tolerance")
    if row["verdict"] == "absent" and m is not None:
        fail(where + ": absent with a value")
    if row["verdict"] in ("not modelled", "absent") and not row["reason"]:
        fail(where + ": " + row["verdict"] + " without a reason")
    if p is None and row["predicted_by"] != "-":
        fail(where + ": no prediction, yet a predictor")


def main():
    exe = sys.argv[1]
    drawn = check_draw(exe)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sample.json")
        run = subprocess.run([exe, "--sample", "3", "--seed", "1", "--json", path],
                             capture_output=True, text=True)
        if run.returncode == SKIP:
            sys.stderr.write(run.stderr)
            print("skipped: pagesim-validate exited 77 (no /dev/kvm, tracepoints or permission)")
            return SKIP
        if run.returncode not in (0, 1):
            fail("exit status %d\n%s%s" % (run.returncode, run.stdout, run.stderr))
        with open(path) as f:
            report = json.load(f)
    text = run.stdout
    if report["sample"] != {"count": 3, "seed": 1}:
        fail("sample: %r" % report["sample"])
    scenarios = report["scenarios"]
    if [s["name"] for s in scenarios] != ["sample-1", "sample-2", "sample-3"]:
        fail("scenarios: %r" % [s["name"] for s in scenarios])
    for s in scenarios:
        if s["options"] != drawn[s["name"]]:
            fail("%s ran %s, drew %s" % (s["name"], s["options"], drawn[s["name"]]))
        if s["status"] not in STATUSES or s["pass"] != (s["status"] == "pass"):
            fail("%s: status %s, pass %s" % (s["name"], s["status"], s["pass"]))
        if s["error"] is None and not s["rows"]:
            fail(s["name"] + ": no rows and no error")
        for row in s["rows"]:
            check_row(s, row)
        verdicts = {row["verdict"] for row in s["rows"]}
        expected = ("FAIL" if s["error"] is not None or "FAIL" in verdicts else
                    "not modelled" if "not modelled" in verdicts else
                    "absent" if "absent" in verdicts else "pass")
        if s["status"] != expected:
            fail("%s: status %s, its rows say %s" % (s["name"], s["status"], expected))
        if "%s: %s: %s" % (s["name"], s["status"], s["options"]) not in text:
            fail(s["name"] + ": no one-line verdict in the text")
        if not s["pass"] and "pagesim-validate " + s["options"] not in text:
            fail(s["name"] + ": not passed, and no line to rerun it")
    passed = sum(s["pass"] for s in scenarios)
    if report["summary"] != {"scenarios": 3, "passed": passed}:
        fail("summary: %r" % report["summary"])
    if (run.returncode == 0) != (passed == 3):
        fail("exit status %d with %d of 3 passed" % (run.returncode, passed))
    for needle in ("drawn with seed 1", "summary: 3 scenarios, %d passed" % passed,
                   "sample seed 1"):
        if needle not in text:
            fail("the text lacks '%s'" % needle)
    print("pagesim-validate --sample 3 --seed 1: a parseable report, %d of 3 passed" % passed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
