#!/usr/bin/env python3
"""Writes traces/examples/cr3_switch.trace's text form to stdout.

Two processes (address spaces 0 and 1, the PCIDs of `!cr3`), each reading its own 512
pages (2 MiB) in order, 64-byte steps within a page per pass, the scheduler switching
between them every 32 accesses: 40,000 accesses and 1,249 CR3 writes. The README's
"Three modes side by side" table replays it:

    scripts/cr3_switch_trace.py > /tmp/t.trace
    build/sim/pagesim trace convert /tmp/t.trace traces/examples/cr3_switch.pgt
    build/sim/pagesim compare traces/examples/cr3_switch.pgt
"""

BASES = (0x7F0000000000, 0x7F1000000000)
ACCESSES = 40000
QUANTUM = 32
PAGES = 512

print("# pagesim example: two address spaces switching every 32 accesses (scripts/cr3_switch_trace.py)")
done = [0, 0]
current = 0
for i in range(ACCESSES):
    if i and i % QUANTUM == 0:
        current ^= 1
        print(f"!cr3 {current}")
    n = done[current]
    address = BASES[current] + (n % PAGES) * 4096 + (n // PAGES % 64) * 64
    print(f"R 0x{address:x}")
    done[current] += 1
