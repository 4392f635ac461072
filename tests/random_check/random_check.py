#!/usr/bin/python3
"""Randomized `pagesim replay --check` suite (docs/testing.md, "Randomized check").

For each seed, draws a valid configuration (mode native, nested or shadow; 4- or 5-level
paging; page sizes; memory slots with holes; host memory small enough to reclaim, split
huge pages; several VMs; EPT A/D bits on or off; odd TLB and walker-cache geometries) and
an event-rich text trace for it (accesses of every kind and size, some crossing pages;
!cr3, !ptewrite with or without a prompt !invlpg, !exit, !memslot, !madvise, !balloon,
!vm, and with several CPUs (cores, vm.vcpus) !cpu), replays it with --check and classifies
the outcome:

  pass      exit status 0
  resource  a clean refusal that names a key to raise ("... raise host.memory"): counted
            apart, not a failure
  check     --check found a stale translation ("check failed", "stale")
  internal  a crash or signal, a timeout, sanitizer output, or a model error that cannot
            come from the trace ("did not converge", std::logic_error's messages, ...)
  other     any other non-zero exit: a bug of this generator (an invalid configuration or
            trace) or a finding; a failure either way

Failures are written to --out with the trace, the exact command and the message; with
--shrink the trace is reduced (delta debugging over its records, then the --set options)
while the same class and message prefix persist. Python 3 standard library only.

The trace of a seed is a pure function of the seed and this file: `--emit SEED` writes it
and prints the command without running anything.
"""

import argparse
import concurrent.futures
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30
PAGE = 4 * KIB
HUGE = 2 * MIB

# The VMM's guest RAM starts at this HVA (models/host/host_params.h, kVmmRamBase); a
# !madvise address at or above it is an HVA, below it a GPA.
VMM_RAM_BASE = 0x7F0000000000
# The guest kernel's page-table frames ascend from GPA 1 MiB (docs/model.md, "Nested mode"):
# the slot holding them is never deleted or moved, and MADV_DONTNEED never touches them
# (a real guest would crash; the model stops, and that is the trace's fault).
GUEST_TABLES = 1 * MIB
GUEST_TABLES_RESERVE = 16 * MIB

DEFAULT_TIMEOUT = 120


def size_text(n):
    """Bytes as the configuration and the trace format spell them: 64MiB, 3GiB, 12KiB."""
    for shift, unit in ((40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n != 0 and n % (1 << shift) == 0:
            return "%d%s" % (n >> shift, unit)
    return str(n)


def align_down(x, a):
    return x - x % a


def align_up(x, a):
    return (x + a - 1) // a * a


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


class Plan:
    """What the trace generator needs to know about the drawn machine."""

    def __init__(self):
        self.mode = "native"
        self.levels = 4  # paging.levels (native) or guest.levels
        self.thp = "never"  # os.thp or guest.thp
        self.host_thp = "never"
        self.vms = 1
        self.cpus = 1  # cores (native) or vm.vcpus: the trace's !cpu records run on them
        self.vm_memory = 0
        self.slots = []  # [(id, gpa, size, ro)] of vm.layout, in order
        self.qemu_layout = False
        self.backing = "anon"
        self.sets = []  # [(key, value)] in order


def draw_tlb_level(rng, sets, level, allow_1g=True):
    """Random geometry for tlb.<level>: arrays of sets x ways, some switched off (0)."""
    replacement = rng.choice(["lru", "lru", "tree_plru", "random"])
    pow2_ways = [1, 2, 4, 8]
    any_ways = pow2_ways + [3, 6, 12]

    def array():
        ways = rng.choice(pow2_ways if replacement == "tree_plru" else any_ways)
        nsets = rng.choice([1, 1, 2, 4, 8, 16, 32])
        return nsets * ways, ways

    names = ["", "_2m", "_1g"]
    entries = {}
    for suffix in names:
        if rng.random() < 0.3:
            entries[suffix] = (0, rng.choice(pow2_ways))
        else:
            entries[suffix] = array()
    if all(e == 0 for e, _ in entries.values()):
        entries[rng.choice(names)] = array()
    for suffix in names:
        e, w = entries[suffix]
        sets.append(("tlb.%s.entries%s" % (level, suffix), str(e)))
        sets.append(("tlb.%s.ways%s" % (level, suffix), str(w)))
    if level == "l2":
        sets.append(("tlb.l2.shared_2m", rng.choice(["true", "false"])))
    sets.append(("tlb.%s.replacement" % level, replacement))


def draw_pwc(rng, sets, prefix, levels):
    """walker.pwc.* (native/shadow/guest side) or walker.ept_pwc.*: on/off and sizes."""
    if rng.random() < 0.25:
        sets.append(("%s.enabled" % prefix, "false"))
        return
    if rng.random() < 0.5:
        return
    for name in levels:
        if rng.random() < 0.5:
            continue
        ways = rng.choice([1, 2, 4])
        entries = rng.choice([0, ways, 2 * ways, 4 * ways, 8 * ways])
        sets.append(("%s.%s.entries" % (prefix, name), str(entries)))
        sets.append(("%s.%s.ways" % (prefix, name), str(ways)))


def draw_layout(rng, memory):
    """vm.layout: 1 to 3 writable slots adding up to `memory`, with holes, sometimes an
    extra read-only slot, sometimes misaligned GPAs (no huge EPT leaves there). Slot 0
    starts at GPA 0 and holds the guest's page tables (GUEST_TABLES...)."""
    n = rng.choice([1, 2, 2, 3, 3])
    first_min = GUEST_TABLES + GUEST_TABLES_RESERVE
    if memory < first_min + (n - 1) * 2 * MIB:
        n = 1
    sizes = []
    left = memory
    for i in range(n - 1):
        room = left - first_min - (n - 2 - i) * 2 * MIB
        unit = rng.choice([PAGE, 2 * MIB, 2 * MIB])
        hi = max(1, room // unit // 2)
        s = rng.randint(max(1, (2 * MIB) // unit), max((2 * MIB) // unit, hi)) * unit
        sizes.append(s)
        left -= s
    sizes.insert(0, left)
    slots = []
    gpa = 0
    for i, s in enumerate(sizes):
        if i > 0:
            hole = rng.choice([0, 2 * MIB, 64 * MIB, 1 * GIB - gpa % GIB, 4 * KIB * rng.randint(1, 64)])
            gpa = align_up(gpa + hole, rng.choice([PAGE, 2 * MIB, 2 * MIB]))
        slots.append([gpa, s, False])
        gpa += s
    if rng.random() < 0.2:
        # a read-only slot (a ROM: no RAM of vm.memory) above the others, at any id
        gpa = align_up(gpa + 2 * MIB, 2 * MIB)
        slots.insert(rng.randint(1, len(slots)), [gpa, rng.choice([PAGE, 64 * KIB, 2 * MIB]), True])
    return [(i, g, s, ro) for i, (g, s, ro) in enumerate(slots)]


def layout_text(slots, backing_choices):
    parts = []
    for (_, gpa, size, ro), back in zip(slots, backing_choices):
        p = "%#x:%s" % (gpa, size_text(size))
        if ro:
            p += ":ro"
        if back:
            p += ":" + back
        parts.append(p)
    return ",".join(parts)


def draw_config(rng):
    plan = Plan()
    sets = plan.sets
    r = rng.random()
    plan.mode = "native" if r < 0.2 else ("nested" if r < 0.6 else "shadow")
    sets.append(("mode", plan.mode))
    sets.append(("seed", str(rng.randint(1, 1000))))
    plan.levels = rng.choice([4, 5])
    if plan.mode == "native":
        sets.append(("paging.levels", str(plan.levels)))
        plan.thp = rng.choice(["never", "2m", "1g"])
        sets.append(("os.thp", plan.thp))
    else:
        sets.append(("guest.levels", str(plan.levels)))
        plan.thp = rng.choice(["never", "never", "2m", "2m", "1g"])
        sets.append(("guest.thp", plan.thp))
        plan.host_thp = rng.choice(["never", "never", "2m", "2m", "2m", "1g"])
        sets.append(("host.thp", plan.host_thp))
        if plan.mode == "nested":
            sets.append(("ept.levels", str(rng.choice([4, 5]))))
            sets.append(("ept.ad_bits", rng.choice(["true", "false"])))
            sets.append(("ept.format", rng.choice(["ept", "ept", "npt"])))
        # 1 GiB host pages: one VM, and a few GiB of host memory at most (the simulator's
        # own memory grows with the host pages it swaps and discards whole)
        plan.vms = 1 if plan.host_thp == "1g" else rng.choice([1, 1, 2, 3])
        if plan.vms > 1:
            sets.append(("vms", str(plan.vms)))
    # TLBs
    for level in ("l1d", "l1i", "l2"):
        if rng.random() < 0.4:
            draw_tlb_level(rng, sets, level)
    # walker caches
    draw_pwc(rng, sets, "walker.pwc", ["pml5", "pml4", "pdpt", "pd"])
    if plan.mode == "nested":
        draw_pwc(rng, sets, "walker.ept_pwc", ["pml5", "pml4", "pdpt", "pd"])
        for cache in ("ntlb", "pte_cache"):
            if rng.random() < 0.3:
                sets.append(("walker.%s.enabled" % cache, "true"))
    if plan.mode == "shadow":
        sets.append(("shadow.wp_policy", rng.choice(["unsync", "unsync", "emulate"])))
        sets.append(("shadow.cache_roots", rng.choice(["true", "true", "false"])))
        sets.append(("shadow.prefetch", rng.choice(["true", "false"])))
        sets.append(("shadow.memslot_zap", rng.choice(["all", "slot"])))
        if rng.random() < 0.3:
            sets.append(("shadow.max_pages", str(rng.choice([64, 100, 256]))))
        if rng.random() < 0.4:
            sets.append(("shadow.aging", "true"))
            sets.append(("shadow.aging_interval", str(rng.choice([8, 64, 500]))))
    return plan


def finish_config(rng, plan, footprint):
    """The memory sizes, once the trace's footprint is known (`footprint`: see
    TraceBuilder.footprint)."""
    sets = plan.sets
    if plan.mode == "native":
        need = footprint["guest_bytes"] + 16 * MIB
        factor = rng.choice([1.5, 2, 4, 8]) if rng.random() < 0.9 else rng.choice([0.3, 0.6])
        mem = max(4 * MIB, align_up(int(need * factor), 2 * MIB))
        sets.append(("os.memory", size_text(mem)))
        return
    # Guest RAM: room for the footprint at the guest's page size, mostly.
    need = footprint["guest_bytes"] + GUEST_TABLES + GUEST_TABLES_RESERVE + 4 * MIB
    factor = rng.choice([1.3, 2, 3]) if rng.random() < 0.92 else rng.choice([0.5, 0.8])
    if plan.thp == "1g" and rng.random() < 0.5:
        factor = max(factor, 1.3)
    mem = max(2 * MIB, align_up(int(need * factor), rng.choice([PAGE, 2 * MIB, 2 * MIB])))
    if plan.thp == "1g" and rng.random() < 0.7:
        mem = max(mem, align_up(mem, GIB))
    one_slot = False
    if plan.host_thp == "1g" and rng.random() < 0.6:
        # GPAs and HVAs congruent modulo 1 GiB over whole gigabytes: 1 GiB EPT leaves
        mem = max(align_up(mem, GIB), rng.choice([1, 2, 3]) * GIB)
        one_slot = True
    plan.vm_memory = mem
    sets.append(("vm.memory", size_text(mem)))
    if one_slot:
        plan.slots = [(0, 0, mem, False)]
        sets.append(("vm.layout", "0:%s" % size_text(mem)))
    elif rng.random() < 0.25:
        plan.qemu_layout = True
        plan.slots = qemu_slots(mem)
    else:
        plan.slots = draw_layout(rng, mem)
        backs = [rng.choice([None, None, None, "anon", "memfd"]) for _ in plan.slots]
        sets.append(("vm.layout", layout_text(plan.slots, backs)))
    if rng.random() < 0.2 and not one_slot:
        plan.backing = "memfd"
        sets.append(("vm.backing", "memfd"))
    sets.append(("vm.vcpus", str(rng.choice([1, 1, 2, 4]))))
    # Host memory: the VMs' footprint in host pages, times a factor that is sometimes
    # below 1 (reclaim), with or without swap.
    # The guest packs its frames (data descending from the top of its RAM, tables ascending
    # from 1 MiB), so a host page holds several guest pages of 4 KiB.
    if plan.host_thp == "never":
        per_vm = footprint["host_bytes_4k"]
    elif plan.host_thp == "2m":
        per_vm = (footprint["host_bytes_2m"] if plan.thp != "never"
                  else align_up(footprint["host_bytes_4k"], HUGE) + 2 * HUGE)
    else:
        per_vm = align_up(footprint["guest_bytes"], GIB) + 2 * GIB
    host_need = (per_vm + 8 * MIB) * plan.vms
    # Mostly: under pressure with swap enough to reclaim into; or ample memory, with or
    # without swap; rarely short of both (the clean "raise host.memory" refusal).
    r = rng.random()
    if plan.host_thp == "1g":
        # Swapping a 1 GiB host page costs the simulator seconds and a GiB or two of its own
        # memory, and a host that cannot hold the 1 GiB pages of one 2D walk swaps at every
        # access (a 38-record trace took 169 s): room for every 1 GiB page the VM may touch,
        # so only the trace's !madvise and the watermarks reclaim.
        r = 0.8
    if r < 0.55:
        factor = rng.choice([0.1, 0.2, 0.3, 0.5, 0.8])
        swap_factor = rng.choice([2, 4, 8])
    elif r < 0.7:
        factor = rng.choice([1.0, 1.2])
        swap_factor = rng.choice([0, 0.5, 1])
    elif r < 0.97:
        factor = rng.choice([2, 4, 16])
        swap_factor = rng.choice([0, 0, 1])
    else:
        factor = rng.choice([0.3, 0.6])
        swap_factor = rng.choice([0, 0.1])
    hmem = max(8 * MIB, align_up(int(host_need * factor), 2 * MIB))
    swap = align_up(int(host_need * swap_factor), PAGE)
    if plan.host_thp == "1g":
        hmem = host_need + rng.choice([1, 2]) * GIB
        swap = rng.choice([0, 1, 2]) * GIB
    sets.append(("host.memory", size_text(hmem)))
    sets.append(("host.swap", size_text(swap)))
    sets.append(("host.thp_reclaim", rng.choice(["split", "split", "whole"])))
    if rng.random() < 0.6:
        lo = rng.choice([128 * KIB, 256 * KIB, 1 * MIB, 2 * MIB])
        lo = min(lo, hmem // 8)
        low = lo + rng.choice([0, 64 * KIB, 1 * MIB])
        high = low + rng.choice([0, 64 * KIB, 1 * MIB, 2 * MIB])
        sets.append(("host.watermarks.min", size_text(align_up(lo, PAGE))))
        sets.append(("host.watermarks.low", size_text(align_up(low, PAGE))))
        sets.append(("host.watermarks.high", size_text(align_up(high, PAGE))))
    if rng.random() < 0.3:
        sets.append(("host.reclaim_batch", str(rng.choice([1, 4, 32, 128]))))
    if rng.random() < 0.15 and plan.host_thp != "1g":
        sets.append(("host.load", size_text(align_down(hmem // rng.choice([4, 8]), PAGE))))
    if plan.mode == "shadow" and plan.host_thp == "never" and rng.random() < 0.3:
        sets.append(("host.zero_page", "true"))


def qemu_slots(memory):
    """The slots of vm.layout=qemu (QEMU's pc machine: models/host/qemu_layout.cc)."""
    lowmem = 3 * GIB if memory >= 3584 * MIB else memory
    slots = [(0, 0, 640 * KIB, False), (1, 1 * MIB, lowmem - 1 * MIB, False)]
    if memory > lowmem:
        slots.append((2, 4 * GIB, memory - lowmem, False))
    return slots


# --------------------------------------------------------------------------------------
# Trace
# --------------------------------------------------------------------------------------


class Region:
    def __init__(self, name, base, size, kinds):
        self.name = name
        self.base = base
        self.size = size
        self.kinds = kinds  # weights for R, W, X


def draw_regions(rng, plan):
    """A handful of virtual address regions of one process (shared by its address spaces).
    All canonical for plan.levels."""
    regions = [
        Region("code", 0x400000, rng.choice([256 * KIB, 1 * MIB, 4 * MIB]), (3, 0, 7)),
        Region("heap", 0x1000000 + rng.randint(0, 15) * 2 * MIB,
               rng.choice([1 * MIB, 8 * MIB, 32 * MIB]), (6, 4, 0)),
        Region("stack", 0x7FFFF0000000 - 1 * MIB, 1 * MIB, (5, 5, 0)),
        Region("mmap", 0x7F0000000000 + rng.randint(0, 255) * 2 * MIB,
               rng.choice([512 * KIB, 4 * MIB, 16 * MIB]), (6, 3, 1)),
    ]
    if rng.random() < 0.6:  # a 2 MiB-aligned region touched densely: huge pages form
        base = (0x40000000 + rng.randint(0, 500) * 2 * MIB)
        regions.append(Region("huge2m", base, rng.choice([2, 4, 8]) * 2 * MIB, (5, 5, 0)))
    if plan.thp == "1g" or rng.random() < 0.3:  # a 1 GiB-aligned region
        base = rng.choice([0x80000000, 0x4000000000, 0x7E0000000000])
        regions.append(Region("huge1g", base, 1 * GIB, (6, 4, 0)))
    if plan.levels == 5 and rng.random() < 0.7:  # beyond 48 bits: canonical with LA57 only
        base = rng.choice([0x0001000000000000, 0x00F0000000000000 + rng.randint(0, 99) * GIB])
        regions.append(Region("la57", base, rng.choice([2 * MIB, 64 * MIB]), (5, 4, 1)))
    if rng.random() < 0.3:  # the upper (kernel) half
        if plan.levels == 5:
            base = 0xFF00000000000000 + rng.randint(0, 16) * GIB
        else:
            base = 0xFFFF800000000000 + rng.randint(0, 16) * GIB
        regions.append(Region("upper", base, rng.choice([1 * MIB, 8 * MIB]), (5, 3, 2)))
    if plan.thp == "1g":
        # 1 GiB guest pages: every region costs a whole 1 GiB frame; keep a few.
        keep = [r for r in regions if r.name in ("code", "heap", "huge1g")]
        regions = keep
    return regions


class Vm:
    def __init__(self, plan, index):
        self.index = index
        self.asid = 0
        self.asids = [0]
        # Pages whose PTE changed (!ptewrite) without an INVLPG yet, by address space: the
        # guest page (at the largest size it may have) -> the addresses to INVLPG before
        # touching it again; and those never to be touched again.
        self.poisoned = {}
        self.forever = {}
        self.generation = {}  # asid -> how many times it was torn down (!exit)
        self.touched = {}  # asid -> list of touched addresses (recent)
        self.slots = {s[0]: [s[1], s[2], s[3]] for s in plan.slots}  # id -> [gpa, size, ro]
        self.home = {s[0]: s[1] for s in plan.slots}
        self.deleted = {}  # id -> (gpa, size, ro)
        self.next_id = 16
        self.ballooned = 0
        self.balloon_limit = 0
        # Several CPUs: the current one (its address space is .asid) and the others' address
        # spaces. A CPU away from an address space whose pages are flushed meanwhile needs
        # nothing of the trace: the core flushes its PCID at its !cr3 back (Linux's tlb_gen
        # check at switch_mm).
        self.cpu = 0
        self.cpu_asid = [0] * plan.cpus


class TraceBuilder:
    def __init__(self, rng, plan, cpu_rng=None):
        self.rng = rng
        # The !cpu records' own stream: with one CPU nothing is drawn from it, and with
        # several the other draws keep their order.
        self.cpu_rng = cpu_rng if cpu_rng is not None else random.Random(0)
        self.plan = plan
        self.lines = []
        self.regions = draw_regions(rng, plan)
        self.weights = [rng.randint(1, 10) for _ in self.regions]
        self.vms = [Vm(plan, i) for i in range(plan.vms)]
        self.vm = self.vms[0]
        npcid = rng.choice([1, 2, 3, 4])
        pool = [0, 1, 2, 3, 7, 4095]
        self.pcids = [0] + rng.sample(pool[1:], npcid - 1)
        self.guest_page = {"never": PAGE, "2m": HUGE, "1g": GIB}[plan.thp]
        self.pages = set()  # (vm, asid, 4 KiB page)
        self.guest_units = set()  # (vm, asid, guest page)
        self.host_2m = set()
        self.remaps = 0
        self.p_event = rng.choice([0.01, 0.03, 0.08, 0.15])
        self.hot = rng.random() < 0.5

    # -- accesses -----------------------------------------------------------------
    def poison_key(self, addr):
        return align_down(addr, self.guest_page)

    def pick_address(self):
        rng = self.rng
        vm = self.vm
        touched = vm.touched.setdefault(vm.asid, [])
        if touched and rng.random() < (0.6 if self.hot else 0.3):
            addr = rng.choice(touched[-64:]) + rng.choice([0, 8, 64, -8])
            region = None
        else:
            region = rng.choices(self.regions, weights=self.weights)[0]
            mode = rng.random()
            if mode < 0.3:  # dense: near the start
                off = rng.randrange(0, min(region.size, 256 * KIB))
            elif mode < 0.5 and region.size >= 2 * MIB:  # the last bytes of a page
                page = rng.randrange(0, region.size // PAGE)
                off = page * PAGE + PAGE - rng.choice([1, 2, 4, 8, 16])
            else:
                if region.name == "huge1g":
                    # sparse over the gigabyte, a few 2 MiB areas
                    off = rng.randrange(0, 8) * 128 * MIB + rng.randrange(0, 64 * KIB)
                else:
                    off = rng.randrange(0, region.size)
            addr = region.base + off
        return addr, region

    def kind_for(self, region):
        if region is None:
            return self.rng.choice("RRRWWX")
        return self.rng.choices("RWX", weights=region.kinds)[0]

    def canonical(self, addr):
        bits = 48 if self.plan.levels == 4 else 57
        top = addr >> (bits - 1)
        return top == 0 or top == (1 << (64 - bits + 1)) - 1

    def access(self):
        rng = self.rng
        for _ in range(8):
            addr, region = self.pick_address()
            size = rng.choices([1, 2, 3, 4, 8, 16, 64, 4096, 8192],
                               weights=[4, 4, 3, 6, 20, 6, 4, 2, 1])[0]
            last = addr + size - 1
            if addr < 0 or not self.canonical(addr) or not self.canonical(last) or last >= 1 << 64:
                continue
            if self.region_of(addr) is None or self.region_of(last) is None:
                continue
            if self.blocked(addr) or self.blocked(last):
                # A page whose PTE changed without an INVLPG yet: the guest would INVLPG
                # before touching it again (or the check would rightly call its entry stale).
                if rng.random() < 0.3 or not self.late_invlpg(addr, last):
                    continue
            kind = self.kind_for(region)
            self.emit("%s %#x%s" % (kind, addr, "" if size == 8 else " %d" % size))
            self.record_touch(addr, last)
            return

    def region_of(self, addr):
        for r in self.regions:
            if r.base <= addr < r.base + r.size:
                return r
        return None

    def record_touch(self, addr, last):
        vm = self.vm
        t = vm.touched.setdefault(vm.asid, [])
        t.append(addr)
        if len(t) > 256:
            del t[:128]
        for a in {addr, last}:
            space = (vm.index, vm.asid, vm.generation.get(vm.asid, 0))
            self.pages.add(space + (a // PAGE,))
            self.guest_units.add(space + (a // self.guest_page,))
            self.host_2m.add(space + (a // HUGE,))

    def blocked(self, addr):
        vm = self.vm
        key = self.poison_key(addr)
        return key in vm.poisoned.get(vm.asid, {}) or key in vm.forever.get(vm.asid, ())

    def late_invlpg(self, addr, last):
        """The INVLPGs a guest owes before touching [addr, last] again; False if one of its
        pages is never to be touched again (its PTE changed and no INVLPG will come)."""
        vm = self.vm
        keys = {self.poison_key(addr), self.poison_key(last)}
        if any(k in vm.forever.get(vm.asid, ()) for k in keys):
            return False
        pending = vm.poisoned.get(vm.asid, {})
        for k in sorted(keys):
            for target in pending.pop(k, []):
                self.invlpg(target)
        return True

    # -- events -------------------------------------------------------------------
    def emit(self, line):
        self.lines.append(line)

    def invlpg(self, addr):
        """`!invlpg addr` on the current CPU: a shootdown of the CPUs on its address space
        (the core's; those away from it flush at their switch back)."""
        self.emit("!invlpg %#x" % addr)

    def ev_cr3(self):
        vm = self.vm
        asid = self.rng.choice(self.pcids)
        vm.asid = asid
        self.emit("!cr3 %d" % asid)
        if self.plan.cpus > 1:
            vm.cpu_asid[vm.cpu] = asid

    def ev_cpu(self):
        vm = self.vm
        vm.cpu = self.cpu_rng.randrange(0, self.plan.cpus)
        vm.asid = vm.cpu_asid[vm.cpu]
        self.emit("!cpu %d" % vm.cpu)

    def ev_ptewrite(self):
        rng = self.rng
        vm = self.vm
        touched = vm.touched.get(vm.asid)
        if not touched:
            return
        addr = align_down(rng.choice(touched[-128:]), PAGE) + rng.choice([0, 0, 0x10, 0xFF8])
        op = rng.choice(["unmap", "remap", "remap"])
        self.emit("!ptewrite %#x %s" % (addr, op))
        if op == "remap":  # a new frame for the page (the old one may stay allocated)
            self.remaps += 1
            self.guest_units.add((vm.index, vm.asid, "remap", self.remaps))
            self.pages.add((vm.index, vm.asid, "remap", self.remaps))
            self.host_2m.add((vm.index, vm.asid, "remap", self.remaps))
        r = rng.random()
        if r < 0.6:
            # any address in the page will do (INVLPG names the page holding it)
            self.invlpg(align_down(addr, PAGE) + rng.choice([0, 0, 8, 0xFF8]))
        elif r < 0.97:
            # deferred: INVLPG before the next touch of the page (late_invlpg)
            vm.poisoned.setdefault(vm.asid, {}).setdefault(self.poison_key(addr), []).append(addr)
        else:
            # never: the page is not touched again in this address space (until !exit)
            vm.forever.setdefault(vm.asid, set()).add(self.poison_key(addr))

    def ev_invlpg(self):
        vm = self.vm
        touched = vm.touched.get(vm.asid)
        if touched:
            self.invlpg(self.rng.choice(touched[-64:]))

    def ev_exit(self):
        rng = self.rng
        vm = self.vm
        asid = rng.choice(self.pcids)
        self.emit("!exit %d" % asid)
        vm.poisoned.pop(asid, None)
        vm.forever.pop(asid, None)
        # a fresh address space: its pages may take other frames (footprint)
        vm.generation[asid] = vm.generation.get(asid, 0) + 1
        vm.touched.pop(asid, None)

    def free_range(self, vm, size, align):
        """A GPA range for a slot that overlaps no current slot: above them all."""
        top = 0
        for gpa, sz, _ in vm.slots.values():
            top = max(top, gpa + sz)
        for gpa, sz, _ in vm.deleted.values():
            top = max(top, gpa + sz)
        return align_up(top + self.rng.choice([0, 2 * MIB, 16 * MIB]), align)

    def overlaps(self, vm, gpa, size, skip=None):
        for i, (g, s, _) in vm.slots.items():
            if i != skip and g < gpa + size and gpa < g + s:
                return True
        return False

    def protected(self, gpa, size):
        return gpa < GUEST_TABLES + GUEST_TABLES_RESERVE and GUEST_TABLES < gpa + size

    def ev_memslot(self):
        rng = self.rng
        vm = self.vm
        movable = [i for i, (g, s, ro) in vm.slots.items() if not self.protected(g, s)]
        r = rng.random()
        if r < 0.35 and vm.deleted:
            i = rng.choice(sorted(vm.deleted))
            g, s, ro = vm.deleted[i]
            if self.overlaps(vm, g, s):
                g = self.free_range(vm, s, rng.choice([PAGE, 2 * MIB]))
            del vm.deleted[i]
            vm.slots[i] = [g, s, ro]
            self.emit("!memslot add %d %#x %s%s" % (i, g, size_text(s), " ro" if ro else ""))
        elif r < 0.6 and movable:
            i = rng.choice(movable)
            g, s, ro = vm.slots.pop(i)
            vm.deleted[i] = (vm.home.get(i, g), s, ro)
            self.emit("!memslot del %d" % i)
        elif r < 0.85 and movable:
            i = rng.choice(movable)
            g, s, ro = vm.slots[i]
            home = vm.home.get(i, g)
            if g != home and not self.overlaps(vm, home, s, skip=i):
                target = home
            else:
                target = self.free_range(vm, s, rng.choice([PAGE, 2 * MIB, 2 * MIB]))
            if self.protected(target, s):
                return
            vm.slots[i] = [target, s, ro]
            self.emit("!memslot move %d %#x" % (i, target))
        else:
            s = rng.choice([PAGE, 2 * MIB, 8 * MIB])
            g = self.free_range(vm, s, rng.choice([PAGE, 2 * MIB]))
            i = vm.next_id
            vm.next_id += 1
            ro = rng.random() < 0.3
            vm.slots[i] = [g, s, ro]
            vm.home[i] = g
            self.emit("!memslot add %d %#x %s%s" % (i, g, size_text(s), " ro" if ro else ""))

    def ev_madvise(self):
        rng = self.rng
        vm = self.vm
        advice = rng.choice(["dontneed", "pageout", "pageout", "cold", "cold"]
                            if self.plan.host_thp != "1g" else
                            ["dontneed", "pageout", "cold", "cold", "cold", "cold"])
        length = rng.choice([PAGE, 2 * PAGE, 64 * KIB, 2 * MIB, 4 * MIB, 16 * MIB])
        if rng.random() < 0.6 and vm.slots:
            g, s, _ = vm.slots[rng.choice(sorted(vm.slots))]
            start = g + align_down(rng.randrange(0, s), PAGE)
            if rng.random() < 0.5:
                start = align_down(start, 2 * MIB) if align_down(start, 2 * MIB) >= g else start
        else:
            total = sum(s for (_, _, s, _) in self.plan.slots)
            off = align_down(rng.randrange(0, max(PAGE, total)), PAGE)
            start = VMM_RAM_BASE + off
        if advice == "dontneed" and self.dontneed_hits_tables(vm, start, length):
            advice = rng.choice(["pageout", "cold"])
        self.emit("!madvise %s %#x %s" % (advice, start, size_text(length)))

    def dontneed_hits_tables(self, vm, start, length):
        """MADV_DONTNEED zeroes what it frees: never over the guest's page tables."""
        if start >= VMM_RAM_BASE:
            # the initial slots' HVAs are contiguous from VMM_RAM_BASE, in id order
            hva = VMM_RAM_BASE
            ranges = []
            for (_, g, s, _) in self.plan.slots:
                ranges.append((hva, hva + s, g))
                hva += s
            for lo, hi, g in ranges:
                a, b = max(lo, start), min(hi, start + length)
                if a < b and self.protected(g + (a - lo), b - a):
                    return True
            # HVAs of slots added later: unknown here, be safe
            return start + length > hva
        for g, s, _ in vm.slots.values():
            a, b = max(g, start), min(g + s, start + length)
            if a < b and self.protected(a, b - a):
                return True
        return False

    def ev_balloon(self):
        rng = self.rng
        vm = self.vm
        if vm.ballooned and rng.random() < 0.45:
            n = rng.randint(1, vm.ballooned) if rng.random() < 0.7 else vm.ballooned + rng.randint(0, 8)
            self.emit("!balloon deflate %d" % n)
            vm.ballooned = max(0, vm.ballooned - n)
        elif vm.balloon_limit > vm.ballooned:
            n = rng.randint(1, min(vm.balloon_limit - vm.ballooned, rng.choice([1, 16, 512, 1024])))
            self.emit("!balloon inflate %d" % n)
            vm.ballooned += n

    def ev_vm(self):
        i = self.rng.randrange(0, self.plan.vms)
        self.vm = self.vms[i]
        self.emit("!vm %d" % i)

    def build(self, records):
        rng = self.rng
        plan = self.plan
        events = [(self.ev_cr3, 3), (self.ev_ptewrite, 4), (self.ev_invlpg, 1), (self.ev_exit, 0.5)]
        if plan.mode != "native":
            events.append((self.ev_memslot, rng.choice([0.3, 1, 2])))
            # (a host page of 1 GiB is advised whole: seconds of the simulator's time)
            events.append((self.ev_madvise, rng.choice([0.5, 2, 4])
                           if plan.host_thp != "1g" else 0.2))
            events.append((self.ev_balloon, rng.choice([0, 0.5, 1])))
            if plan.vms > 1:
                events.append((self.ev_vm, 3))
        funcs = [f for f, _ in events]
        weights = [w for _, w in events]
        phase_len = rng.choice([50, 200, 10 ** 9])
        p_cpu = self.cpu_rng.choice([0.01, 0.05, 0.2]) if plan.cpus > 1 else 0
        while len(self.lines) < records:
            if p_cpu and self.cpu_rng.random() < p_cpu:
                self.ev_cpu()
            if rng.random() < self.p_event:
                rng.choices(funcs, weights=weights)[0]()
            else:
                self.access()
            if len(self.lines) % phase_len == 0:
                # a phase change: the hot set moves
                self.weights = [rng.randint(1, 10) for _ in self.regions]
        return self.lines

    def footprint(self):
        """Upper bounds on the memory the trace's accesses take (without sharing)."""
        per_vm = [0] * self.plan.vms
        for unit in self.guest_units:
            per_vm[unit[0]] += self.guest_page
        host4k = [0] * self.plan.vms
        for unit in self.pages:
            host4k[unit[0]] += PAGE
        host2m = [0] * self.plan.vms
        for unit in self.host_2m:
            host2m[unit[0]] += HUGE
        return {
            "guest_bytes": max(per_vm),
            "host_bytes_4k": max(host4k),
            "host_bytes_2m": max(host2m),
        }


def generate(seed):
    """The plan (its .sets: the configuration as (key, value) pairs) and the trace lines of
    a seed. The trace is drawn twice from the same stream: first against a provisional
    layout, to measure its footprint, which sizes the memories (finish_config); then
    against the final layout (the same accesses up to the first event that depends on it)."""
    rng = random.Random("pagesim-random-check-%d" % seed)
    plan = draw_config(rng)
    records = rng.choice([300, 1000, 2000, 4000, 8000])
    if plan.host_thp == "1g":
        records = min(records, 2000)
    stream = rng.random()
    plan.slots = [(0, 0, 1 << 40, False)]
    pre = TraceBuilder(random.Random(stream), plan)
    pre.build(records)
    footprint = pre.footprint()
    finish_config(rng, plan, footprint)
    # The CPUs: vm.vcpus as finish_config drew it; native mode's cores from a stream of
    # their own (a seed of one CPU keeps its configuration and trace). The footprint was
    # measured on one CPU: the !cpu records change which address space an access is in,
    # not the regions it draws from.
    cpu_rng = random.Random("pagesim-random-check-cpus-%d" % seed)
    if plan.mode == "native":
        plan.cpus = cpu_rng.choice([1, 1, 2, 4])
        if plan.cpus > 1:
            plan.sets.append(("cores", str(plan.cpus)))
    else:
        plan.cpus = int(dict(plan.sets)["vm.vcpus"])
        # Fewer host CPUs than vCPUs, half the time: preempted vCPUs, flagged by the PV TLB
        # flush or waited for (a stream of its own: the rest of the draw stays the seed's).
        host_rng = random.Random("pagesim-random-check-pcpus-%d" % seed)
        if plan.cpus > 1 and host_rng.random() < 0.5:
            plan.sets.append(("vm.pcpus", str(host_rng.randint(1, plan.cpus - 1))))
            if host_rng.random() < 0.3:
                plan.sets.append(("vm.pv_tlb_flush", "false"))
        # kvm_pvm's per-vCPU copies of the root's top-level entries (shadow.vcpu_root_copy),
        # half the shadow seeds with several vCPUs (a stream of its own).
        copy_rng = random.Random("pagesim-random-check-rootcopy-%d" % seed)
        if plan.mode == "shadow" and plan.cpus > 1 and copy_rng.random() < 0.5:
            plan.sets.append(("shadow.vcpu_root_copy", "true"))
    # With several CPUs in all (vms x CPUs > 1), a third of the seeds replay side by side in
    # simulated time (sim.interleave=time), drawn from a stream of their own: every other
    # draw, and so the trace, stays the seed's.
    if plan.vms * plan.cpus > 1:
        interleave_rng = random.Random("pagesim-random-check-interleave-%d" % seed)
        if interleave_rng.random() < 1 / 3:
            plan.sets.append(("sim.interleave", "time"))
    tb = TraceBuilder(random.Random(stream), plan, cpu_rng)
    guest_ram = sum(s for (_, _, s, ro) in plan.slots if not ro)
    spare = guest_ram - footprint["guest_bytes"] - GUEST_TABLES_RESERVE - 4 * MIB
    for vm in tb.vms:
        vm.balloon_limit = max(0, spare // PAGE // 4)
    return plan, tb.build(records)


# --------------------------------------------------------------------------------------
# Running and classifying
# --------------------------------------------------------------------------------------

# --coverage: statistics whose being nonzero shows a mechanism ran (counted per passing seed).
COVERAGE = [
    "sim.page_splits", "sim.mmio_accesses", "sim.checks", "sim.host_audits", "tlb.shootdowns",
    "walker.faults", "guest.page_faults", "ept.violations", "ept.zaps", "ept.access_tracked",
    "ept.installs.2m", "ept.installs.1g", "host.page_faults", "host.refaults", "host.swap.outs",
    "host.swap.ins", "host.reclaim.reclaimed", "host.reclaim.direct", "host.reclaim.thp_splits",
    "host.reclaim.dropped_clean", "host.thp_fallbacks", "host.madvise_pages",
    "mmu_notifier.invalidate_range", "mmu_notifier.clear_young", "shadow.page_faults",
    "shadow.unsync", "shadow.invlpg_syncs", "shadow.zaps", "shadow.rmap_zaps", "shadow.wp_writes",
    "vmexits.cr3_write", "vmexits.invlpg", "os.page_faults", "sim.shootdowns", "sim.ipis",
    "sim.pv_tlb_flushes", "sim.preempted_ipis", "sim.stale_window_uses", "shadow.pf_spurious",
]

# --coverage also counts the passing seeds replayed with sim.interleave=time.
TIME_MODE = "sim.interleave=time"

INTERNAL_PATTERNS = [
    "did not converge", "logic", "internal", "AddressSanitizer", "UndefinedBehaviorSanitizer",
    "LeakSanitizer", "runtime error:", "host LRU:", "ept map:", "split_in_use", "free(0x",
    "already mapped", "walker rejected", "after the OS mapped it", "no 2 MiB page",
    "shadow rmap:", "adopt_address_space", "terminate called", "Assertion", "assertion",
]


def replay_command(pagesim, trace, sets):
    cmd = [pagesim, "replay", trace, "--check", "--quiet", "--progress", "never"]
    for k, v in sets:
        cmd += ["--set", "%s=%s" % (k, v)]
    return cmd


def message_of(stderr):
    lines = [l for l in stderr.splitlines() if l.strip()]
    for l in lines:
        if l.startswith("pagesim replay: "):
            return l[len("pagesim replay: "):].strip()
    return lines[0].strip() if lines else ""


def classify(rc, stdout, stderr, timed_out):
    """(class, message) of one run."""
    text = stderr + stdout
    msg = message_of(stderr)
    for p in ("AddressSanitizer", "UndefinedBehaviorSanitizer", "LeakSanitizer", "runtime error:"):
        if p in text:
            return "internal", "sanitizer: " + next(l for l in text.splitlines() if p in l).strip()
    if timed_out:
        return "internal", "timeout"
    if rc == 0:
        return "pass", ""
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = str(-rc)
        return "internal", "killed by signal %s%s" % (name, (": " + msg) if msg else "")
    if "check failed" in text or "stale" in text:
        return "check", msg
    m = re.search(r"raise ([a-z_]+(?:\.[a-z_0-9]+)+)", msg)
    if m:
        return "resource", msg
    for p in INTERNAL_PATTERNS:
        if p in msg:
            return "internal", msg
    return "other", msg or ("exit status %d, no message" % rc)


def signature(cls, msg):
    """What must persist while shrinking: the class and the message's prefix, numbers and
    addresses aside."""
    norm = re.sub(r"0x[0-9a-fA-F]+", "X", msg)
    norm = re.sub(r"\d+", "N", norm)
    if cls == "check":
        m = re.search(r"the (.+?) gives", norm)
        if m:
            return (cls, "stale " + m.group(1))
        m = re.search(r"stale entry: (.{0,40})", norm)
        if m:
            return (cls, m.group(1))
    norm = re.sub(r"^trace record N: ", "", norm)
    return (cls, norm[:50])


class Run:
    """One replay: its class, message, command, wall seconds and peak RSS."""

    def __init__(self, cls, msg, cmd, seconds=0.0, rss_kib=0):
        self.cls, self.msg, self.cmd, self.seconds, self.rss_kib = cls, msg, cmd, seconds, rss_kib


def run_one(pagesim, trace_path, sets, timeout, extra=()):
    cmd = replay_command(pagesim, trace_path, sets) + list(extra)
    for attempt in range(20):
        with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
            start = time.time()
            try:
                p = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, start_new_session=True)
            except OSError as e:  # the binary is being rebuilt: "Text file busy", missing
                if attempt == 19:
                    return Run("other", "cannot run %s: %s" % (pagesim, e), cmd)
                time.sleep(30)
                continue
            timed_out = False
            # os.wait4 for the child's own peak RSS (Popen.wait would reap it without).
            while True:
                pid, status, usage = os.wait4(p.pid, os.WNOHANG)
                if pid != 0:
                    break
                if time.time() - start > timeout and not timed_out:
                    timed_out = True
                    os.killpg(p.pid, signal.SIGKILL)
                time.sleep(0.02)
            p.returncode = os.waitstatus_to_exitcode(status)
            seconds = time.time() - start
            out_f.seek(0)
            err_f.seek(0)
            out = out_f.read().decode(errors="replace")
            err = err_f.read().decode(errors="replace")
        if p.returncode in (126, 127):
            time.sleep(30)
            continue
        cls, msg = classify(p.returncode, out, err, timed_out)
        return Run(cls, msg, cmd, seconds, usage.ru_maxrss)
    return Run("other", "cannot run %s" % pagesim, cmd)


def write_trace(path, seed, plan, lines, note=""):
    with open(path, "w") as f:
        f.write("# random_check.py seed %d%s: mode %s\n" % (seed, note, plan.mode))
        for l in lines:
            f.write(l + "\n")


def stale_by_design(plan, lines):
    """The first record (1-based) that touches a page whose PTE a !ptewrite changed in its
    address space with no !invlpg of the page (or !exit of the space) since: the guest
    relies on a translation it has not invalidated, which --check rightly calls stale. None
    if there is none. The generator never writes such a trace; shrinking must not make one."""
    region = {"never": PAGE, "2m": HUGE, "1g": GIB}[plan.thp]
    vm = 0
    cpu = {}  # vm -> its current CPU
    asid = {}  # (vm, cpu) -> its address space
    pending = {}  # (vm, asid) -> {guest page (region): {4 KiB pages}}
    for n, line in enumerate(lines, 1):
        w = line.split()
        if not w:
            continue
        here = (vm, cpu.get(vm, 0))
        if w[0].startswith("!"):
            ev = w[0]
            if ev == "!vm":
                vm = int(w[1], 0)
            elif ev == "!cpu":
                cpu[vm] = int(w[1], 0)
            elif ev == "!cr3":
                asid[here] = int(w[1], 0)
            elif ev == "!ptewrite":
                a = int(w[1], 0)
                space = pending.setdefault((vm, asid.get(here, 0)), {})
                space.setdefault(align_down(a, region), set()).add(a // PAGE)
            elif ev == "!invlpg":
                a = int(w[1], 0)
                mine = asid.get(here, 0)
                space = pending.get((vm, mine), {})
                pages = space.get(align_down(a, region))
                if pages is not None:
                    pages.discard(a // PAGE)
                    if not pages:
                        del space[align_down(a, region)]
            elif ev == "!exit":
                pending.pop((vm, int(w[1], 0)), None)
            continue
        a = int(w[1], 0)
        last = a + (int(w[2], 0) if len(w) > 2 else 8) - 1
        space = pending.get((vm, asid.get(here, 0)))
        if space and (align_down(a, region) in space or align_down(last, region) in space):
            return n
    return None


def shrink(pagesim, seed, plan, lines, sets, sig, workdir, timeout, budget_s=300, max_runs=400):
    """Delta debugging (ddmin) over the trace's records, then over the --set options, while
    the failure keeps its signature. Returns (lines, sets, message)."""
    deadline = time.time() + budget_s
    runs = [0]
    last_msg = [None]
    path = os.path.join(workdir, "shrink-%d.trace" % seed)

    def fails(cand_lines, cand_sets):
        if time.time() > deadline or runs[0] >= max_runs:
            return False
        if stale_by_design(plan, cand_lines) is not None:
            return False
        runs[0] += 1
        write_trace(path, seed, plan, cand_lines, " (shrinking)")
        run = run_one(pagesim, path, cand_sets, timeout)
        if signature(run.cls, run.msg) == sig:
            last_msg[0] = run.msg
            return True
        return False

    cur = list(lines)
    n = 2
    while len(cur) >= 2:
        chunk = max(1, len(cur) // n)
        reduced = False
        # try removing each chunk (complements first from the end: later records matter less)
        for start in range(0, len(cur), chunk):
            cand = cur[:start] + cur[start + chunk:]
            if cand and fails(cand, sets):
                cur = cand
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(cur), n * 2)
        if time.time() > deadline or runs[0] >= max_runs:
            break
    cur_sets = list(sets)
    i = 0
    while i < len(cur_sets):
        if cur_sets[i][0] == "mode":
            i += 1
            continue
        cand = cur_sets[:i] + cur_sets[i + 1:]
        if fails(cur, cand):
            cur_sets = cand
        else:
            i += 1
    try:
        os.unlink(path)
    except OSError:
        pass
    return cur, cur_sets, last_msg[0]


def quote_cmd(cmd):
    return " ".join(shlex.quote(c) for c in cmd)


def check_seed(args, seed, workdir):
    plan, lines = generate(seed)
    bad = stale_by_design(plan, lines)
    if bad is not None:  # a bug of the generator: report it as such
        return {"seed": seed, "class": "other", "mode": plan.mode, "seconds": 0, "rss_kib": 0,
                "records": len(lines), "command": "random_check.py --emit %d" % seed,
                "message": "generator: record %d touches a page changed by !ptewrite "
                           "without an !invlpg" % bad}
    path = os.path.join(workdir, "seed-%d.trace" % seed)
    write_trace(path, seed, plan, lines)
    extra = ["--json", path + ".json"] if args.coverage else []
    run = run_one(args.pagesim, path, plan.sets, args.timeout, extra)
    cls, msg = run.cls, run.msg
    result = {"seed": seed, "class": cls, "message": msg, "mode": plan.mode,
              "seconds": run.seconds, "rss_kib": run.rss_kib, "records": len(lines)}
    if args.coverage and cls == "pass":
        import json
        with open(path + ".json") as f:
            stats = json.load(f)
        os.unlink(path + ".json")
        result["covered"] = {k for k in COVERAGE if stats.get(k, 0)} | {
            k for k in COVERAGE if any(v and n.endswith("." + k) for n, v in stats.items()
                                       if n.startswith("vm"))}
        if ("sim.interleave", "time") in plan.sets:
            result["covered"].add(TIME_MODE)
    if cls in ("pass", "resource"):
        os.unlink(path)
        return result
    out = args.out
    os.makedirs(out, exist_ok=True)
    final = os.path.join(out, "seed-%d.trace" % seed)
    write_trace(final, seed, plan, lines)
    os.unlink(path)
    repro = replay_command(os.path.abspath(args.pagesim), os.path.abspath(final), plan.sets)
    with open(os.path.join(out, "seed-%d.cmd" % seed), "w") as f:
        f.write(quote_cmd(repro) + "\n")
    with open(os.path.join(out, "seed-%d.txt" % seed), "w") as f:
        f.write("class: %s\nmessage: %s\n" % (cls, msg))
    result["trace"] = final
    result["command"] = quote_cmd(repro)
    if args.shrink:
        sig = signature(cls, msg)
        small, small_sets, small_msg = shrink(args.pagesim, seed, plan, lines, plan.sets, sig,
                                              workdir, args.timeout, args.shrink_seconds)
        mini = os.path.join(out, "seed-%d.min.trace" % seed)
        write_trace(mini, seed, plan, small, " (shrunk)")
        mrepro = replay_command(os.path.abspath(args.pagesim), os.path.abspath(mini), small_sets)
        with open(os.path.join(out, "seed-%d.min.cmd" % seed), "w") as f:
            f.write(quote_cmd(mrepro) + "\n")
        with open(os.path.join(out, "seed-%d.txt" % seed), "a") as f:
            f.write("shrunk to %d of %d records: %s\nshrunk message: %s\n" %
                    (len(small), len(lines), mini, small_msg or msg))
        result["min_trace"] = mini
        result["min_command"] = quote_cmd(mrepro)
        result["min_records"] = len(small)
        result["min_message"] = small_msg or msg
    return result


def parse_seeds(text):
    seeds = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            seeds.extend(range(int(a), int(b) + 1))
        else:
            seeds.append(int(part))
    return seeds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pagesim", default=os.environ.get("PAGESIM", "build/sim/pagesim"),
                    help="the pagesim binary (default $PAGESIM or build/sim/pagesim)")
    ap.add_argument("--seeds", default="1-40", help="seeds: 1-40, 3,7,9 or a mix (default 1-40)")
    ap.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2)")
    ap.add_argument("--out", default="random_check_out",
                    help="folder for failing traces, commands and messages")
    ap.add_argument("--shrink", action="store_true", help="shrink each failing trace")
    ap.add_argument("--shrink-seconds", type=int, default=300,
                    help="time budget of one shrink (default 300)")
    ap.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                    help="seconds per run before it counts as hung (default %d)" % DEFAULT_TIMEOUT)
    ap.add_argument("--emit", type=int, metavar="SEED",
                    help="write SEED's trace to --out and print its command; run nothing")
    ap.add_argument("--coverage", action="store_true",
                    help="also count, over the passing seeds, how many ran each mechanism")
    ap.add_argument("--verbose", "-v", action="store_true", help="a line per seed")
    args = ap.parse_args(argv)

    if args.emit is not None:
        plan, lines = generate(args.emit)
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "seed-%d.trace" % args.emit)
        write_trace(path, args.emit, plan, lines)
        print(quote_cmd(replay_command(args.pagesim, path, plan.sets)))
        return 0

    seeds = parse_seeds(args.seeds)
    workdir = tempfile.mkdtemp(prefix="pagesim-random-check-")
    counts = {"pass": 0, "resource": 0, "check": 0, "internal": 0, "other": 0}
    failures = []
    lock = threading.Lock()
    started = time.time()
    done = [0]

    results = []

    def report(res):
        with lock:
            results.append(res)
            counts[res["class"]] += 1
            done[0] += 1
            if res["class"] not in ("pass", "resource"):
                failures.append(res)
                print("seed %d (%s): %s: %s" % (res["seed"], res["mode"], res["class"],
                                                res["message"]), flush=True)
                print("  reproduce: %s" % res["command"], flush=True)
                if "min_trace" in res:
                    print("  shrunk to %d records: %s" % (res["min_records"], res["min_command"]),
                          flush=True)
            elif args.verbose:
                print("seed %d (%s): %s in %.1f s, %d MiB %s" %
                      (res["seed"], res["mode"], res["class"], res["seconds"],
                       res["rss_kib"] // 1024, res["message"]), flush=True)
            if not args.verbose and len(seeds) >= 200 and done[0] % 100 == 0:
                print("random-check: %d of %d done (%.0f s)" % (done[0], len(seeds),
                                                              time.time() - started), flush=True)

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futs = [pool.submit(check_seed, args, s, workdir) for s in seeds]
            for f in concurrent.futures.as_completed(futs):
                report(f.result())
    finally:
        try:
            for name in os.listdir(workdir):
                os.unlink(os.path.join(workdir, name))
            os.rmdir(workdir)
        except OSError:
            pass
    failed = counts["check"] + counts["internal"] + counts["other"]
    if args.coverage:
        passed = [r for r in results if "covered" in r]
        for k in COVERAGE + [TIME_MODE]:
            print("coverage: %-34s %4d of %d passing seeds" %
                  (k, sum(1 for r in passed if k in r["covered"]), len(passed)))
    if results:
        slow = max(results, key=lambda r: r["seconds"])
        big = max(results, key=lambda r: r["rss_kib"])
        print("random-check: slowest seed %d (%.1f s, %d records), largest seed %d (peak RSS "
              "%d MiB)" % (slow["seed"], slow["seconds"], slow["records"], big["seed"],
                           big["rss_kib"] // 1024))
    print("random-check: %d traces in %.0f s: %d passed, %d resource-limited (the error names "
          "a key to raise), %d stale translations, %d internal errors, %d other errors" %
          (len(seeds), time.time() - started, counts["pass"], counts["resource"], counts["check"],
           counts["internal"], counts["other"]))
    if failures:
        print("random-check: failing seeds: %s (traces and commands in %s)" %
              (",".join(str(r["seed"]) for r in sorted(failures, key=lambda r: r["seed"])),
               args.out))
    print("random-check: %d passed, %d failed" % (counts["pass"] + counts["resource"], failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
