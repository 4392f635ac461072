// sim.interleave (issue 20): several CPUs' records in trace order (trace, the default) or
// side by side in simulated time (time: a thread per CPU with its own quantum keeper, the
// trace demultiplexed by `!cpu`/`!vm`). Every count below is derived from the rules, written
// beside the assertion:
//  - time: each CPU's thread runs its stream's records until its keeper's next sync point,
//    a multiple of sim.quantum (cycles), then waits; the threads run one at a time, every
//    thread's first quantum at time 0. A CPU's records run at most a quantum (and one
//    access) apart in simulated time from the others'.
//  - Every access costs at least core.cycles_per_access (1 by default) plus the L1 TLB's
//    latency (0); a page fault os.page_fault_latency (2600) more.
//  - A shootdown (Linux's flush_tlb_mm_range) targets the other CPUs that have run records
//    (the mm's cpumask) in the sender's PCID: one IPI each; core.ipi_cycles (1000) per
//    target and ipi_handler_cycles (1500) to the sender, ipi_handler_cycles to each target.
//  - sim.elapsed_cycles is SystemC time at the end: in trace mode the one thread's, which
//    is told every cycle the run charges (sim.cycles); in time mode the last thread's end,
//    each thread told its CPU's cycles (cpu<i>.sim.cycles).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "tests/cli_harness.h"

namespace pagesim::testing {
namespace {

constexpr std::uint64_t kBase = 0x7f0000000000;

std::string page(int i, int offset = 0) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx",
                static_cast<unsigned long long>(kBase + 4096ull * i + std::uint64_t(offset)));
  return buf;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `reads` loads of one page (of address space `pcid`), then `n` PTE changes each followed
// by its INVLPG, on CPU 0; then CPU 1 joins address space `pcid` and reads the same page
// `reads` times.
std::string block_per_cpu(int reads, int n, int reads1 = -1) {
  std::string t = "!cr3 5\n";
  for (int i = 0; i < reads; ++i) {
    t += "R " + page(0, 8 * (i % 512)) + "\n";
  }
  for (int i = 0; i < n; ++i) {
    t += "!ptewrite " + page(1 + i) + " remap\n!invlpg " + page(1 + i) + "\n";
  }
  t += "!cpu 1\n!cr3 5\n";
  for (int i = 0; i < (reads1 < 0 ? reads : reads1); ++i) {
    t += "R " + page(0, 8 * (i % 512)) + "\n";
  }
  return t;
}

TEST(Interleave, TraceOrderSendsNoIpiToACpuThatHasNotRunYet) {
  TempDir dir;
  auto s = replay(dir, block_per_cpu(2000, 3),
                  "--set cores=2 --set sim.quantum=1000 --set sim.interleave=trace");
  // In trace order CPU 1's records come after CPU 0's INVLPGs: CPU 1 has not run (it is in
  // no address space's cpumask), so the 3 runs of !invlpg have no target.
  EXPECT_EQ(s["sim.invlpgs"], 3);
  EXPECT_EQ(s["sim.shootdowns"], 0);
  EXPECT_EQ(s["sim.ipis"], 0);
  // !cpu is the one switch; the records ran in trace order on one thread, whose time is
  // every cycle summed.
  EXPECT_EQ(s["sim.cpu_switches"], 1);
  EXPECT_EQ(s["sim.elapsed_cycles"], s["sim.cycles"]);
}

TEST(Interleave, TimeOrderSendsAnIpiPerRunToTheCpuThatRanItsFirstQuantum) {
  TempDir dir;
  auto s = replay(dir, block_per_cpu(2000, 3),
                  "--set cores=2 --set sim.quantum=1000 --set sim.interleave=time");
  // CPU 0's 2000 reads cost at least 2000 x 1 cycles (its first a 2600-cycle fault), more
  // than its first quantum (1000 cycles): its thread waits at time 1000 at the latest,
  // before its !ptewrite/!invlpg pairs. CPU 1's thread runs its first quantum at time 0,
  // starting with `!cr3 5`: it has run in address space 5 when CPU 0's INVLPGs come. Each
  // of the 3 runs of one !invlpg is a shootdown with one IPI, to CPU 1.
  EXPECT_EQ(s["sim.invlpgs"], 3);
  EXPECT_EQ(s["sim.shootdowns"], 3);
  EXPECT_EQ(s["sim.ipis"], 3);
  EXPECT_EQ(s["cpu1.sim.ipis_received"], 3);
  EXPECT_EQ(s["cpu0.sim.ipis_received"], 0);
  // Sender: 3 x (1 x ipi_cycles + ipi_handler_cycles); target: 3 x ipi_handler_cycles.
  EXPECT_EQ(s["sim.shootdown_cycles"], 3 * (1000 + 1500) + 3 * 1500);
  // The !cpu still counts as a switch (the record that starts CPU 1's stream); each
  // CPU's records and cycles are its own, the totals add them up.
  EXPECT_EQ(s["sim.cpu_switches"], 1);
  EXPECT_EQ(s["cpu0.sim.accesses"], 2000);
  EXPECT_EQ(s["cpu1.sim.accesses"], 2000);
  EXPECT_EQ(s["cpu0.sim.cycles"] + s["cpu1.sim.cycles"], s["sim.cycles"]);
}

TEST(Interleave, TimeOrderWithOneHostCpuFlagsThePreemptedVcpu) {
  TempDir dir;
  // vm.pcpus = 1: the host runs the vCPU that most recently started running records; in
  // time mode a vCPU starts at each turn that follows the other's. CPU 0's !invlpg runs
  // come after its first quantum (as above), in a turn of its own that followed one of
  // CPU 1's: CPU 1 is preempted, so each of the 3 shootdowns flags it (the PV TLB flush,
  // on by default) in place of an IPI. CPU 0's records (a fault, 2000 reads, 3 PTE changes)
  // cost less than CPU 1's 100,000 reads of a cycle or more each (asserted below): CPU 1
  // runs again after the flags and flushes its TLB once at that entry (one flag pending,
  // however many were set).
  const std::string opts =
      "--check --set mode=nested --set vm.vcpus=2 --set vm.pcpus=1 --set sim.quantum=1000 ";
  const std::string t = block_per_cpu(2000, 3, 100000);
  auto time = replay(dir, t, opts + "--set sim.interleave=time");
  EXPECT_EQ(time["sim.shootdowns"], 3);
  EXPECT_EQ(time["sim.pv_tlb_flushes"], 3);
  EXPECT_EQ(time["sim.ipis"], 0);
  EXPECT_EQ(time["cpu1.sim.remote_flushes"], 1);
  EXPECT_EQ(time["sim.remote_flushes"], 1);
  EXPECT_LT(time["cpu0.sim.cycles"], 100000);
  // In trace order CPU 1 has not run yet: no target at all.
  auto trace = replay(dir, t, opts + "--set sim.interleave=trace");
  EXPECT_EQ(trace["sim.shootdowns"], 0);
  EXPECT_EQ(trace["sim.pv_tlb_flushes"], 0);
}

// Two CPUs with equal work, in address spaces of their own: each reads `pages` pages
// `rounds` times over.
std::string equal_work(int pages, int rounds) {
  std::string t;
  for (int cpu = 0; cpu < 2; ++cpu) {
    t += "!cpu " + std::to_string(cpu) + "\n!cr3 " + std::to_string(1 + cpu) + "\n";
    for (int r = 0; r < rounds; ++r) {
      for (int p = 0; p < pages; ++p) {
        t += "R " + page(p, 8 * r) + "\n";
      }
    }
  }
  return t;
}

TEST(Interleave, TwoCpusWithEqualWorkTakeHalfTheElapsedTime) {
  TempDir dir;
  const std::string t = equal_work(64, 40);  // 2 x 2562 records: read in two batches
  constexpr double kQuantum = 1000;
  auto trace = replay(dir, t, "--set cores=2 --set sim.quantum=1000 --set sim.interleave=trace");
  auto time = replay(dir, t, "--set cores=2 --set sim.quantum=1000 --set sim.interleave=time");
  // trace: one thread, told every cycle: the CPUs' cycles summed.
  EXPECT_EQ(trace["sim.elapsed_cycles"], trace["sim.cycles"]);
  EXPECT_EQ(trace["cpu0.sim.cycles"] + trace["cpu1.sim.cycles"], trace["sim.cycles"]);
  // time: each thread is told its CPU's cycles (no shootdowns here) and never waits for
  // records (the whole trace is read before either runs out); it ends at its CPU's cycles,
  // past its last sync point by less than a quantum. SystemC time ends with the later one.
  const double busiest = std::max(time["cpu0.sim.cycles"], time["cpu1.sim.cycles"]);
  EXPECT_EQ(time["sim.elapsed_cycles"], busiest);
  EXPECT_EQ(time["cpu0.sim.cycles"] + time["cpu1.sim.cycles"], time["sim.cycles"]);
  // Equal work: each CPU about half of the sum (the CPUs' page walks share the cache
  // model, so not exactly), so time's elapsed is about half of trace's.
  EXPECT_GT(time["sim.elapsed_cycles"], 0.45 * trace["sim.elapsed_cycles"]);
  EXPECT_LT(time["sim.elapsed_cycles"], 0.55 * trace["sim.elapsed_cycles"] + kQuantum);
  // The same records ran: the same accesses and faults (the address spaces are disjoint).
  EXPECT_EQ(time["sim.accesses"], trace["sim.accesses"]);
  EXPECT_EQ(time["cpu0.sim.accesses"], 64 * 40);
  EXPECT_EQ(time["os.page_faults"], trace["os.page_faults"]);
}

TEST(Interleave, TimeRunsReplayDeterministically) {
  TempDir dir;
  // Four vCPUs, shootdowns among them, host work (nested): two runs, identical outputs.
  std::string t;
  for (int round = 0; round < 30; ++round) {
    for (int c = 0; c < 4; ++c) {
      t += "!cpu " + std::to_string(c) + "\n";
      if (round == 0) {
        t += "!cr3 7\n";
      }
      for (int i = 0; i < 200; ++i) {
        t += std::string(i % 3 == 0 ? "W " : "R ") + page((round * 7 + c * 13 + i) % 300) + "\n";
      }
      t += "!ptewrite " + page(round + c) + " remap\n!invlpg " + page(round + c) + "\n";
    }
  }
  write_text(dir.file("t.trace"), t);
  const std::string cmd = "replay " + dir.file("t.trace") +
                          " --quiet --set mode=nested --set vm.vcpus=4 --set sim.quantum=5000 "
                          "--set sim.interleave=time --json ";
  ASSERT_EQ(run_command(pagesim(cmd + dir.file("a.json"))).status, 0);
  ASSERT_EQ(run_command(pagesim(cmd + dir.file("b.json"))).status, 0);
  const std::string a = without_provenance(read_text(dir.file("a.json")));
  EXPECT_EQ(a, without_provenance(read_text(dir.file("b.json"))));
  // 30 x 4 runs of one !invlpg, each CPU in address space 7 from its first quantum on.
  EXPECT_NE(a.find("\"sim.invlpgs\": 120,"), std::string::npos) << a;
  EXPECT_NE(a.find("\"sim.shootdowns\": "), std::string::npos);
}

TEST(Interleave, OneCpuTimeIsTrace) {
  TempDir dir;
  write_text(dir.file("t.trace"), "!cr3 3\n" + sweep_trace(kBase, 100, 3, 2) + "!ptewrite " +
                                      page(4) + " unmap\n!invlpg " + page(4) + "\n" +
                                      sweep_trace(kBase, 10, 1, 1));
  for (const char* il : {"trace", "time"}) {
    auto r = run_command(pagesim("replay " + dir.file("t.trace") + " -q --set sim.quantum=500 " +
                                 "--set sim.interleave=" + il + " --json " +
                                 dir.file(std::string(il) + ".json")));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  // One CPU in all: time is the trace-order replay, the same statistics; the
  // configuration (in the provenance, left out) is all that differs.
  EXPECT_EQ(without_provenance(read_text(dir.file("trace.json"))),
            without_provenance(read_text(dir.file("time.json"))));
}

TEST(Interleave, NestedAndShadowTimeRunsPassTheCheck) {
  TempDir dir;
  std::string t;
  for (int round = 0; round < 12; ++round) {
    for (int c = 0; c < 2; ++c) {
      t += "!cpu " + std::to_string(c) + "\n";
      if (round == 0) {
        t += "!cr3 9\n";
      }
      for (int i = 0; i < 300; ++i) {
        t += std::string(i % 4 == 0 ? "W " : "R ") + page((round * 11 + c * 5 + i) % 150, 8 * i) +
             "\n";
      }
      t += "!ptewrite " + page(round * 2 + c) + " remap\n!invlpg " + page(round * 2 + c) + "\n";
    }
  }
  for (const char* mode : {"nested", "shadow"}) {
    auto s = replay(dir, t,
                    std::string("--check --set mode=") + mode +
                        " --set vm.vcpus=2 --set sim.quantum=2000 --set sim.interleave=time");
    // Every access checked against a walk from scratch (sim.check), none split.
    EXPECT_EQ(s["sim.accesses"], 12 * 2 * 300) << mode;
    EXPECT_GE(s["sim.checks"], s["sim.accesses"]) << mode;
    // 24 runs of one !invlpg; after the first quantum both vCPUs are in address space 9,
    // so the later runs each send one IPI.
    EXPECT_EQ(s["sim.invlpgs"], 24) << mode;
    EXPECT_GT(s["sim.ipis"], 0) << mode;
    EXPECT_LE(s["sim.ipis"], 24) << mode;
    EXPECT_EQ(s["cpu0.sim.cycles"] + s["cpu1.sim.cycles"], s["sim.cycles"]) << mode;
  }
}

TEST(Interleave, APteWriteAndItsInvlpgStayInOneTurn) {
  TempDir dir;
  // Two vCPUs in one address space, 20 blocks each of 500 random loads and stores over 200
  // pages and one PTE change with its INVLPG; shadow mode, one host CPU. A `!ptewrite`'s
  // VM exit can use up a turn's quantum: if the turn ended there, the other vCPU would run
  // before the `!invlpg` and its shootdown, on a translation --check knows is stale (it
  // did, at trace record 6851, before turns kept the two together).
  std::uint64_t x = 7;
  const auto rnd = [&x](std::uint64_t n) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return (x >> 33) % n;
  };
  std::string t;
  char buf[64];
  for (int block = 0; block < 40; ++block) {
    t += "!cpu " + std::to_string(block % 2) + "\n";
    if (block < 2) {
      t += "!cr3 5\n";
    }
    for (int i = 0; i < 500; ++i) {
      const std::uint64_t p = rnd(200);
      const bool store = rnd(3) == 0;
      const std::uint64_t offset = 8 * rnd(500);
      std::snprintf(buf, sizeof buf, "%c 0x%llx\n", store ? 'W' : 'R',
                    static_cast<unsigned long long>(kBase + 4096 * p + offset));
      t += buf;
    }
    const std::string changed = page(static_cast<int>(rnd(200)));
    t += "!ptewrite " + changed + " remap\n!invlpg " + changed + "\n";
  }
  auto s = replay(dir, t,
                  "--check --set mode=shadow --set vm.vcpus=2 --set vm.pcpus=1 "
                  "--set sim.quantum=2000 --set sim.interleave=time");
  EXPECT_EQ(s["sim.accesses"], 40 * 500);
  EXPECT_GE(s["sim.checks"], s["sim.accesses"]);
  EXPECT_EQ(s["sim.invlpgs"], 40);
}

TEST(Interleave, VmDirectivesSendRecordsToEachVmsStreams) {
  TempDir dir;
  // Two VMs of two vCPUs: `!vm N` picks the VM, `!cpu N` its vCPU; the VM keeps its vCPU
  // across `!vm`. VM 0 CPU 0: 100 reads; VM 1 CPU 0: 200; VM 1 CPU 1: 300; VM 0 CPU 1:
  // 400; back to VM 1 (its CPU 1): 50.
  std::string t;
  const auto reads = [](int n, int first) {
    std::string r;
    for (int i = 0; i < n; ++i) {
      r += "R " + page((first + i) % 64) + "\n";
    }
    return r;
  };
  t += reads(100, 0) + "!vm 1\n" + reads(200, 1) + "!cpu 1\n" + reads(300, 2) + "!vm 0\n!cpu 1\n" +
       reads(400, 3) + "!vm 1\n" + reads(50, 4);
  auto s = replay(dir, t,
                  "--check --set mode=nested --set vms=2 --set vm.vcpus=2 --set sim.quantum=2000 "
                  "--set sim.interleave=time");
  EXPECT_EQ(s["vm0.cpu0.sim.accesses"], 100);
  EXPECT_EQ(s["vm1.cpu0.sim.accesses"], 200);
  EXPECT_EQ(s["vm1.cpu1.sim.accesses"], 300 + 50);
  EXPECT_EQ(s["vm0.cpu1.sim.accesses"], 400);
  EXPECT_EQ(s["vm0.sim.accesses"], 500);
  EXPECT_EQ(s["vm1.sim.accesses"], 550);
  // Each directive is an event of the stream it starts: 3 !vm and 2 !cpu.
  EXPECT_EQ(s["sim.cpu_switches"], 2);
  EXPECT_EQ(s["sim.events"], 5);
  EXPECT_EQ(s["vm1.cpu1.sim.events"], 2);  // its `!cpu 1` and the second `!vm 1`
}

TEST(Interleave, AnErrorInCpuOnesStreamNamesItsTracePosition) {
  TempDir dir;
  // Records 1-501 on CPU 0 (`!cr3 5` and 500 reads), 502 `!cpu 1`, 503-512 CPU 1's reads,
  // 513 a non-canonical read on CPU 1, then 100 more reads on CPU 0.
  std::string t = "!cr3 5\n";
  for (int i = 0; i < 500; ++i) {
    t += "R " + page(i % 20) + "\n";
  }
  t += "!cpu 1\n";
  for (int i = 0; i < 10; ++i) {
    t += "R " + page(i) + "\n";
  }
  t += "R 0x800000000000\n!cpu 0\n";
  for (int i = 0; i < 100; ++i) {
    t += "R " + page(i % 20) + "\n";
  }
  write_text(dir.file("t.trace"), t);
  auto r =
      run_command(pagesim("replay " + dir.file("t.trace") +
                          " -q --set cores=2 --set sim.quantum=1000 --set sim.interleave=time"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("trace record 513: R 0x800000000000"), std::string::npos) << r.output;
  // A `!cpu` past the CPUs stays in the stream at hand, which refuses it at its position.
  write_text(dir.file("u.trace"), "R " + page(0) + "\n!cpu 1\nR " + page(1) + "\n!cpu 2\n");
  r = run_command(
      pagesim("replay " + dir.file("u.trace") + " -q --set cores=2 --set sim.interleave=time"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("trace record 4: !cpu 2: the machine has 2 CPUs, 0 to 1"),
            std::string::npos)
      << r.output;
}

// Barriers (time): the VMM's and host's events (`!memslot`, `!madvise`, `!balloon`) and an
// address space's teardown (`!exit`) run after every record that precedes them in the
// trace and before every record that follows, at the latest of the CPU threads' times; a
// thread waiting at one resumes at that time (its idle time in no CPU's cycles).
TEST(Interleave, AMemslotDeletedOnOneVcpuAndAddedOnAnotherRunsInTraceOrder) {
  TempDir dir;
  // Records 1-3 on vCPU 0: slot 7 added, a read (a guest page fault and EPT violations: more
  // than the 1000-cycle quantum, so vCPU 0's thread waits after it), slot 7 deleted;
  // records 4-7 on vCPU 1: `!cpu 1`, a read, slot 7 added again, a read. Without barriers
  // vCPU 1's thread runs its first quantum at time 0, add before vCPU 0's delete: "id 7 is
  // taken" at record 6. With them the three !memslot run in trace order.
  const std::string t = "!memslot add 7 0x200000000 0x200000\nR " + page(0) +
                        "\n!memslot del 7\n!cpu 1\nR " + page(1) +
                        "\n!memslot add 7 0x200000000 0x200000\nR " + page(2) + "\n";
  auto s = replay(dir, t,
                  "--check --set mode=nested --set vm.vcpus=2 --set sim.quantum=1000 "
                  "--set sim.interleave=time");
  EXPECT_EQ(s["sim.memslot_changes"], 3);
  EXPECT_EQ(s["sim.accesses"], 3);
  // vCPU 0: its add and delete; vCPU 1: `!cpu 1` (the record that starts its stream) and
  // its add.
  EXPECT_EQ(s["cpu0.sim.events"], 2);
  EXPECT_EQ(s["cpu1.sim.events"], 2);
  EXPECT_EQ(s["cpu0.sim.accesses"], 1);
  EXPECT_EQ(s["cpu1.sim.accesses"], 2);
  // Time: the memslot events cost no cycles (nested mode: no VM exit of the guest's;
  // asserted), so the delete (record 3) is at vCPU 0's end, cpu0.sim.cycles; vCPU 1 has no
  // record before it and resumes there; its records all follow it. The add (record 6)
  // waits for nothing more (vCPU 0 has no record before it left). vCPU 1 ends at
  // cpu0.sim.cycles + cpu1.sim.cycles: the run is serial, as in trace order.
  ASSERT_EQ(s["sim.event_cycles"], 0);
  EXPECT_EQ(s["sim.elapsed_cycles"], s["cpu0.sim.cycles"] + s["cpu1.sim.cycles"]);
  EXPECT_EQ(s["sim.elapsed_cycles"], s["sim.cycles"]);
}

TEST(Interleave, ABarrierThatFailsNamesItsTracePosition) {
  TempDir dir;
  // Record 1 on vCPU 0; records 2-4 on vCPU 1 (`!cpu 1`, a read, a `!memslot del` of a slot
  // that does not exist); then a read on each vCPU. The barrier (record 4) runs once both
  // vCPUs have run their records before it, and its error names it.
  write_text(dir.file("t.trace"), "R " + page(0) + "\n!cpu 1\nR " + page(1) +
                                      "\n!memslot del 9\nR " + page(2) + "\n!cpu 0\nR " + page(3) +
                                      "\n");
  auto r = run_command(pagesim("replay " + dir.file("t.trace") +
                               " -q --set mode=nested --set vm.vcpus=2 --set sim.quantum=1000 "
                               "--set sim.interleave=time"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("trace record 4: !memslot del: memslot 9: no such slot to delete"),
            std::string::npos)
      << r.output;
}

TEST(Interleave, ABarrierRunsAtTheLatestThreadsTimeAndTheOthersResumeThere) {
  TempDir dir;
  // Native, two cores, address spaces of their own. Before the barrier: core 0 reads one
  // page 100 times (a page fault, then L1 TLB hits), core 1 reads 2000 loads over 50 pages.
  // The barrier: `!exit 9` among core 1's records (an address space neither uses). After
  // it: core 0 reads its page 100 times more.
  std::string t = "!cr3 1\n";
  for (int i = 0; i < 100; ++i) {
    t += "R " + page(0, 8 * i) + "\n";
  }
  t += "!cpu 1\n!cr3 2\n";
  for (int i = 0; i < 2000; ++i) {
    t += "R " + page(100 + i % 50, 8 * (i / 50)) + "\n";
  }
  t += "!exit 9\n!cpu 0\n";
  for (int i = 0; i < 100; ++i) {
    t += "R " + page(0, 8 * i) + "\n";
  }
  const std::string opts = "--set cores=2 --set sim.quantum=1000 --set sim.interleave=";
  auto s = replay(dir, t, opts + "time");
  // Premises: `!exit` costs nothing in native mode; core 1's work before the barrier is
  // the longer (50 page faults of 2600 cycles and more).
  ASSERT_EQ(s["sim.event_cycles"], 0);
  ASSERT_GT(s["cpu1.sim.cycles"], s["cpu0.sim.cycles"]);
  // The barrier runs when core 1 has run its 2000 reads, at its time, cpu1.sim.cycles (all
  // of core 1's cycles: it has none after). Core 0 waited there; it resumes at that time
  // and its 100 hits after the barrier each cost core.cycles_per_access (1) plus the L1
  // TLB's latency (0): it ends at cpu1.sim.cycles + 100, the run's end. Without the
  // barrier it would end at its own cycles, before core 1.
  EXPECT_EQ(s["sim.elapsed_cycles"], s["cpu1.sim.cycles"] + 100);
  EXPECT_EQ(s["cpu0.sim.accesses"], 200);
  EXPECT_EQ(s["cpu1.sim.accesses"], 2000);
  // The same records as in trace order; time's elapsed is below trace's (which sums every
  // cycle) by core 0's cycles before the barrier.
  auto trace = replay(dir, t, opts + "trace");
  EXPECT_EQ(trace["sim.elapsed_cycles"], trace["sim.cycles"]);
  EXPECT_EQ(s["sim.cycles"], trace["sim.cycles"]);
  EXPECT_EQ(trace["sim.elapsed_cycles"] - s["sim.elapsed_cycles"], s["cpu0.sim.cycles"] - 100);
}

// Records 1-3 on CPU 0: `!cr3 5`, a read of page 0 (a page fault: its TLB holds the
// translation), page 0's PTE changed (`!ptewrite remap`). Records 4-5005 on CPU 1: `!cpu 1`,
// `!cr3 5`, 5000 reads of page 16 (a fault, then L1 TLB hits). Then, with `invlpg`, record
// 5006: CPU 1's `!invlpg` of page 0 (its shootdown reaches CPU 0). Then `!cpu 0` and 100
// reads of page 0 on CPU 0 (records 5008-5107; without the !invlpg 5007-5106).
std::string pte_change_flushed_by_another_cpu(bool invlpg) {
  std::string t = "!cr3 5\nR " + page(0) + "\n!ptewrite " + page(0) + " remap\n!cpu 1\n!cr3 5\n";
  for (int i = 0; i < 5000; ++i) {
    t += "R " + page(16, 8 * (i % 512)) + "\n";
  }
  if (invlpg) {
    t += "!invlpg " + page(0) + "\n";
  }
  t += "!cpu 0\n";
  for (int i = 0; i < 100; ++i) {
    t += "R " + page(0, 8 * i) + "\n";
  }
  return t;
}

TEST(Interleave, TheCheckAcceptsTheOldTranslationUntilTheInvlpgRuns) {
  TempDir dir;
  const std::string opts = "--check --set cores=2 --set sim.quantum=1000 --set sim.interleave=";
  const std::string t = pte_change_flushed_by_another_cpu(true);
  auto time = replay(dir, t, opts + "time");
  // time: CPU 0's read of page 0 faults (2600 cycles and more, past the 1000-cycle
  // quantum), so its thread waits before the PTE change, at about 2600; CPU 1 reaches its
  // !invlpg after its fault and 5000 hits of a cycle each, past 7600. CPU 0 runs its PTE
  // change and its 100 reads (a cycle each, hits on the translation its TLB holds from
  // before the change) in between: all 100 use the old translation before the INVLPG
  // that the trace puts before them has run. By the SDM (4.10.5) CPU 0 may: the check
  // accepts each (they would stop the run without the window).
  EXPECT_EQ(time["sim.stale_window_uses"], 100);
  EXPECT_EQ(time["sim.accesses"], 1 + 5000 + 100);
  EXPECT_EQ(time["sim.checks"], time["sim.accesses"]);
  // The INVLPG's shootdown still goes to CPU 0 (it runs address space 5).
  EXPECT_EQ(time["sim.ipis"], 1);
  EXPECT_EQ(time["cpu0.sim.ipis_received"], 1);
  // trace: CPU 0's reads come after the shootdown: no old translation is used.
  auto trace = replay(dir, t, opts + "trace");
  EXPECT_EQ(trace["sim.stale_window_uses"], 0);
  EXPECT_EQ(trace["sim.checks"], trace["sim.accesses"]);
}

TEST(Interleave, TheCheckStillCatchesAFlushThatNeverComes) {
  TempDir dir;
  // As above without CPU 1's !invlpg: the window of the PTE change (record 3) never closes.
  // In time mode CPU 0's 100 reads (records 5007-5106) are accepted as they run, and the
  // run's end reports the missed flush, naming the change and the first use; in trace
  // order the first read stops the run.
  write_text(dir.file("t.trace"), pte_change_flushed_by_another_cpu(false));
  const std::string cmd = "replay " + dir.file("t.trace") +
                          " -q --check --set cores=2 --set sim.quantum=1000 --set sim.interleave=";
  auto r = run_command(pagesim(cmd + "time"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("check failed: the !ptewrite at trace record 3 changed the PTE of "
                          "0x7f0000000000 (PCID 5) and no INVLPG of the page followed, but CPU "
                          "0 used the translation from before it at trace record 5007 (100 "
                          "uses in all): a missed flush"),
            std::string::npos)
      << r.output;
  r = run_command(pagesim(cmd + "trace"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("check failed at trace record 5007 (R 0x7f0000000000, PCID 5)"),
            std::string::npos)
      << r.output;
}

TEST(Interleave, AnInvlpgWaitsForTheEarlierPteChangeOfItsPageOnAnotherCpu) {
  TempDir dir;
  // Records 1-5003 on CPU 0: `!cr3 5`, a read of page 0, 5000 reads of page 16, then
  // page 0's PTE changed (record 5003). Records 5004-15008 on CPU 1: `!cpu 1`, `!cr3 5`,
  // `!invlpg` of page 0 (after the change in the trace: the flush for it), a read of page
  // 0, 10,000 reads of page 32, a read of page 0.
  std::string t = "!cr3 5\nR " + page(0) + "\n";
  for (int i = 0; i < 5000; ++i) {
    t += "R " + page(16, 8 * (i % 512)) + "\n";
  }
  t += "!ptewrite " + page(0) + " remap\n!cpu 1\n!cr3 5\n!invlpg " + page(0) + "\nR " + page(0) +
       "\n";
  for (int i = 0; i < 10000; ++i) {
    t += "R " + page(32, 8 * (i % 512)) + "\n";
  }
  t += "R " + page(0) + "\n";
  auto s = replay(dir, t, "--check --set cores=2 --set sim.quantum=1000 --set sim.interleave=time");
  // CPU 0 reaches its change past time 10,200 (two page faults of 2600 cycles and more,
  // 5000 reads of a cycle or more); CPU 1's thread runs its first quantum at time 0. Its
  // INVLPG waits for the change, as in trace order, so it is the change's flush: CPU 0, in
  // address space 5, gets its IPI (1); CPU 1's reads of page 0 walk the new tables, and
  // nothing stale is used. (Run at time 0, before the change, the INVLPG would flush
  // nothing: CPU 1's first read would fill the old translation and its last, past time
  // 15,000, after the change, use it with no flush to come: "a missed flush".)
  EXPECT_EQ(s["sim.ipis"], 1);
  EXPECT_EQ(s["cpu0.sim.ipis_received"], 1);
  EXPECT_EQ(s["sim.stale_window_uses"], 0);
  EXPECT_EQ(s["sim.accesses"], 1 + 5000 + 1 + 10000 + 1);
  EXPECT_EQ(s["sim.checks"], s["sim.accesses"]);
  // CPU 1 waited (idle) until the change, to within a quantum: the run ends at least
  // 10,200 - 1000 cycles past CPU 1's own cycles.
  EXPECT_GE(s["sim.elapsed_cycles"], s["cpu1.sim.cycles"] + 10200 - 1000);
}

TEST(Interleave, WarmupCountsAccessesInExecutionOrder) {
  TempDir dir;
  // 2 x 2562 records, 2 x 2560 accesses; a warm-up of 1000 accesses leaves 4120 counted
  // whatever order the CPUs' accesses ran in.
  auto s = replay(dir, equal_work(64, 40),
                  "--set cores=2 --set sim.quantum=1000 --set sim.interleave=time "
                  "--set sim.warmup=1000");
  EXPECT_EQ(s["sim.accesses"], 2 * 2560 - 1000);
  EXPECT_EQ(s["cpu0.sim.accesses"] + s["cpu1.sim.accesses"], 2 * 2560 - 1000);
}

TEST(Interleave, BadValuesAreRefusedNamingTheKey) {
  TempDir dir;
  write_text(dir.file("t.trace"), "R " + page(0) + "\n");
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " -q --set sim.interleave=order"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("sim.interleave: 'order' is not one of: trace, time"), std::string::npos)
      << r.output;
}

TEST(Interleave, SigintStopsEveryThreadAndKeepsTheStatistics) {
  TempDir dir;
  // A long generated trace (accesses only: all CPU 0's stream; CPU 1's thread reads ahead
  // until the queue bound, then waits), SIGINT after half a second: exit 128 + 2, the
  // statistics of the records run, which are the first ones of the trace.
  const std::string command =
      pagesim("replay gen:uniform:count=4000000000,footprint=1GiB -q --progress never --csv " +
              dir.file("s.csv") + " --set cores=2 --set sim.interleave=time > " +
              dir.file("out.txt") + " 2>&1");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(pid, SIGINT);
  int raw = 0;
  ::waitpid(pid, &raw, 0);
  ASSERT_TRUE(WIFEXITED(raw));
  EXPECT_EQ(WEXITSTATUS(raw), 128 + SIGINT) << read_text(dir.file("out.txt"));
  auto s = read_csv_stats(dir.file("s.csv"));
  EXPECT_GT(s["sim.accesses"], 0);
  EXPECT_LT(s["sim.accesses"], 4e9);
  EXPECT_EQ(s["cpu0.sim.accesses"], s["sim.accesses"]);
  EXPECT_EQ(s["cpu1.sim.accesses"], 0);
  // Its records are the first of the trace: the last one run is record number accesses.
  EXPECT_NE(read_text(dir.file("out.txt"))
                .find("interrupted by SIGINT after trace record " +
                      std::to_string(static_cast<std::uint64_t>(s["sim.accesses"]))),
            std::string::npos)
      << read_text(dir.file("out.txt"));
}

}  // namespace
}  // namespace pagesim::testing
