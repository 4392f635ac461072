#!/usr/bin/env python3
"""Prints the folder dependency graph of pagesim's own sources and any cycles in it.

Reads every `#include "..."` of the project's C and C++ files (git ls-files: *.h, *.cc, *.c),
keeps those naming a file of the project (from the root, as the sources write them, or
beside the including file), and maps both ends to their folder:

    base/...            -> base          base/tlm/...  -> base/tlm
    models/<x>/...      -> models/<x>
    <top>/...           -> <top>         (sim, traces, validate, pysim, tests, bench, fuzz)

so sim/config and sim/stats count as sim. An edge A -> B means a file in A includes a file
in B; an edge marked [tests] comes only from tests, test helpers and benchmarks
(*_test.cc, *_test_*.h, *test_util.h, *_bench.cc). Output: one line per folder with the
folders it includes (and how many includes), then each cycle (a strongly connected
component of more than one folder) with the includes that make it, `file -> included file`,
and whether it remains without the test edges. Exit status 1 if there is a cycle, 0 if not.

    scripts/folder_graph.py              the graph and the cycles of the working tree
    scripts/folder_graph.py --cycles     the cycles only
    scripts/folder_graph.py --rev REV    of a commit instead (e.g. --rev HEAD~3)
"""

import collections
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
TEST_FILE = re.compile(r"(_test\.cc|_test_[a-z_]+\.h|_test\.h|test_util\.h|_bench\.cc)$")


def folder(path):
    parts = path.split("/")
    if len(parts) == 1:
        return "."
    if parts[0] == "base":
        return "base/tlm" if len(parts) > 2 and parts[1] == "tlm" else "base"
    if parts[0] == "models" and len(parts) > 2:
        return "models/" + parts[1]
    return parts[0]


def strongly_connected(nodes, edges):
    """Tarjan's algorithm, iteratively; returns the components in reverse topological order."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(edges[succ]))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(sorted(component))
    return result


def git(root, *args):
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                          cwd=root).stdout


def sources(root, rev):
    """{path: text} of the project's C and C++ files, at `rev` or in the working tree."""
    patterns = ["*.h", "*.cc", "*.c"]
    if rev:
        names = [n for n in git(root, "ls-tree", "-r", "--name-only", rev).split()
                 if n.endswith((".h", ".cc", ".c"))]
        return {n: git(root, "show", f"{rev}:{n}") for n in names}
    names = git(root, "ls-files", "--cached", "--others", "--exclude-standard", "--",
                *patterns).split()
    result = {}
    for n in names:
        path = os.path.join(root, n)
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                result[n] = f.read()
    return result


def main():
    args = sys.argv[1:]
    cycles_only = "--cycles" in args
    rev = args[args.index("--rev") + 1] if "--rev" in args else None
    root = git(os.path.dirname(os.path.abspath(__file__)), "rev-parse",
               "--show-toplevel").strip()
    files = sources(root, rev)

    edges = collections.defaultdict(set)
    witnesses = collections.defaultdict(list)  # (from folder, to folder) -> [(file, included)]
    nodes = set()
    for path in sorted(files):
        source = folder(path)
        nodes.add(source)
        for line in files[path].splitlines():
            match = INCLUDE.match(line)
            if not match:
                continue
            name = match.group(1)
            beside = os.path.normpath(os.path.join(os.path.dirname(path), name))
            if name in files:
                target = name
            elif beside in files:
                target = beside
            else:
                continue  # a system or generated header
            dest = folder(target)
            nodes.add(dest)
            if dest != source:
                edges[source].add(dest)
                witnesses[(source, dest)].append((path, target))

    def tests_only(source, dest):
        return all(TEST_FILE.search(a) for a, _ in witnesses[(source, dest)])

    def label(source, dest):
        return f"{dest} ({len(witnesses[(source, dest)])}" + \
            (", tests)" if tests_only(source, dest) else ")")

    if not cycles_only:
        print("Folder graph (folder -> folders it includes, with the number of includes):")
        for node in sorted(nodes):
            targets = ", ".join(label(node, d) for d in sorted(edges[node]))
            print(f"  {node} -> {targets if targets else '(nothing)'}")
        print()

    production = {n: {d for d in edges[n] if not tests_only(n, d)} for n in nodes}
    cycles = [c for c in strongly_connected(nodes, edges) if len(c) > 1]
    without_tests = [c for c in strongly_connected(nodes, production) if len(c) > 1]
    if not cycles:
        print("No cycles.")
        return 0
    print(f"{len(cycles)} cycle(s) (strongly connected groups of folders):")
    for component in sorted(cycles):
        members = set(component)
        print(f"  {{{', '.join(component)}}}")
        for source in component:
            for dest in sorted(edges[source] & members):
                shown = witnesses[(source, dest)]
                print(f"    {source} -> {dest}{' [tests]' if tests_only(source, dest) else ''}: "
                      + ", ".join(f"{a} -> {b}" for a, b in shown[:4])
                      + (f" (+{len(shown) - 4} more)" if len(shown) > 4 else ""))
    print()
    if without_tests:
        print(f"Without the [tests] edges, {len(without_tests)} cycle(s): "
              + "; ".join("{" + ", ".join(c) + "}" for c in sorted(without_tests)))
    else:
        print("Without the [tests] edges: no cycles.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
