// Several CPUs and their TLB shootdowns end to end (issue 20): `cores = N` in native mode,
// `vm.vcpus = N` in nested and shadow mode, `!cpu N` in the trace. Every count below is derived
// from the rules, written beside the assertion:
//  - Linux's flush_tlb_mm_range (arch/x86/mm/tlb.c): the CPU that changed a PTE flushes
//    locally (the trace's !invlpg) and sends one IPI to each other CPU in the mm's cpumask
//    (a CPU that runs the address space), one shootdown per run of !invlpg; beyond
//    tlb_single_page_flush_ceiling (33) pages the targets flush the whole address space.
//  - A guest's IPI exits once per x2APIC ICR write (one per target in physical destination
//    mode) without IPI virtualization; once per multicast with KVM's PV send-IPI hypercall;
//    never with IPI virtualization (IPIv, AVIC).
//  - KVM's remote flush (an mmu_notifier invalidation: kvm_flush_remote_tlbs) reaches every
//    vCPU's TLBs.
//  - Costs: the sender pays core.ipi_cycles per target, one core.ipi_handler_cycles of
//    waiting and vmexit.latency per exit; each target pays core.ipi_handler_cycles.
//  - A host with fewer CPUs than vCPUs (vm.pcpus = P) runs the P vCPUs that started running
//    records most recently; the others are preempted. Linux's kvm_flush_tlb_multi (the PV TLB
//    flush, vm.pv_tlb_flush) flags a preempted target in place of its IPI, and KVM flushes
//    that vCPU's whole TLB when it runs again (record_steal_time ->
//    kvm_vcpu_flush_tlb_guest); without it, the IPI goes and the sender waits
//    vm.preempted_ipi_wait for the handler.
//  - Shadow paging (KVM without EPT): each INVLPG exits (vmexit.latency +
//    shadow.invlpg_latency), the targets' too; the vCPUs share KVM's shadow pages, and two
//    on one guest CR3 share its root; a zap or an emulated write to a write-protected guest
//    table is kvm_flush_remote_tlbs: every vCPU.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "tests/cli_harness.h"

namespace pagesim::testing {
namespace {

constexpr std::uint64_t kBase = 0x7f0000000000;

std::string page(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(kBase + 4096ull * i));
  return buf;
}

// CPUs 1 .. cpus-1 each read page 0 (they join address space 0), then CPU 0 reads it and
// makes `n` PTE changes, each followed by its INVLPG.
std::string shootdowns(int cpus, int n) {
  std::string t;
  for (int c = 1; c < cpus; ++c) {
    t += "!cpu " + std::to_string(c) + "\nR " + page(0) + "\n";
  }
  t += "!cpu 0\nR " + page(0) + "\n";
  for (int i = 0; i < n; ++i) {
    t += "!ptewrite " + page(i) + " remap\n!invlpg " + page(i) + "\n";
  }
  return t;
}

TEST(Shootdown, FourVcpusHundredInvlpgsGiveThreeHundredIpisAndExits) {
  TempDir dir;
  auto s = replay(dir, shootdowns(4, 100), "--set mode=nested --set vm.vcpus=4");
  // 100 runs of one !invlpg on vCPU 0, 3 other vCPUs in its address space: 100 shootdowns
  // of 3 IPIs; without IPI virtualization each ICR write exits.
  EXPECT_EQ(s["sim.shootdowns"], 100);
  EXPECT_EQ(s["sim.ipis"], 300);
  EXPECT_EQ(s["vmexits.ipi"], 300);
  EXPECT_EQ(s["sim.remote_flushes"], 300);
  for (int c = 1; c < 4; ++c) {
    EXPECT_EQ(s["cpu" + std::to_string(c) + ".sim.ipis_received"], 100) << c;
  }
  EXPECT_EQ(s["cpu0.sim.ipis_received"], 0);
  // The cycles: 100 x (3 x ipi_cycles + ipi_handler_cycles + 3 x vmexit.latency) for the
  // sender, 300 x ipi_handler_cycles for the targets (INVLPG does not exit with EPT).
  const double sender = 100 * (3 * 1000 + 1500 + 3 * 1200);
  EXPECT_EQ(s["sim.shootdown_cycles"], sender + 300 * 1500);
  // Each target's share holds its 100 handlers (and its one read); the totals add the CPUs
  // up.
  EXPECT_GT(s["cpu1.sim.cycles"], 100 * 1500);
  EXPECT_EQ(
      s["cpu0.sim.cycles"] + s["cpu1.sim.cycles"] + s["cpu2.sim.cycles"] + s["cpu3.sim.cycles"],
      s["sim.cycles"]);
}

TEST(Shootdown, IpiVirtualizationAndPvSendIpiChangeOnlyTheExits) {
  TempDir dir;
  const std::string t = shootdowns(4, 100);
  auto ipiv = replay(dir, t, "--set mode=nested --set vm.vcpus=4 --set vm.ipi_virtualization=true");
  EXPECT_EQ(ipiv["sim.ipis"], 300);
  EXPECT_EQ(ipiv["vmexits.ipi"], 0);  // IPIv / AVIC: no exit
  auto pv = replay(dir, t, "--set mode=nested --set vm.vcpus=4 --set vm.pv_send_ipi=true");
  EXPECT_EQ(pv["sim.ipis"], 300);
  EXPECT_EQ(pv["vmexits.ipi"], 100);  // one KVM_HC_SEND_IPI per shootdown
  auto both = replay(dir, t,
                     "--set mode=nested --set vm.vcpus=4 --set vm.pv_send_ipi=true "
                     "--set vm.ipi_virtualization=true");
  EXPECT_EQ(both["vmexits.ipi"], 0);
}

TEST(Shootdown, NativeCoresSendIpisAndNoExits) {
  TempDir dir;
  auto s = replay(dir, shootdowns(4, 100), "--set cores=4");
  EXPECT_EQ(s["sim.ipis"], 300);
  EXPECT_EQ(s["sim.shootdowns"], 100);
  EXPECT_EQ(s["vmexits.ipi"], 0);  // no VM: the row does not exist
  EXPECT_EQ(s["sim.shootdown_cycles"], 100 * (3 * 1000 + 1500) + 300 * 1500);
}

TEST(Shootdown, OnlyCpusRunningTheAddressSpaceAreTargets) {
  TempDir dir;
  // CPU 3 switches to address space 5; CPU 2 never runs a record: of 3 other CPUs only
  // CPU 1 runs address space 0 when CPU 0 changes its PTEs.
  std::string t = "!cpu 1\nR " + page(0) + "\n!cpu 3\n!cr3 5\nR " + page(0) + "\n!cpu 0\n";
  for (int i = 0; i < 10; ++i) {
    t += "!ptewrite " + page(i) + " remap\n!invlpg " + page(i) + "\n";
  }
  auto s = replay(dir, t, "--set cores=4");
  EXPECT_EQ(s["sim.ipis"], 10);
  EXPECT_EQ(s["cpu1.sim.ipis_received"], 10);
  EXPECT_EQ(s["cpu2.sim.ipis_received"], 0);
  EXPECT_EQ(s["cpu3.sim.ipis_received"], 0);
}

TEST(Shootdown, ARunOfInvlpgIsOneShootdownAndPast33PagesAWholeFlush) {
  TempDir dir;
  // CPU 1 reads 40 pages (40 TLB entries in its STLB), then CPU 0 changes them all and
  // flushes each page: one flush_tlb_mm_range, one IPI. With n <= 33 pages the target
  // INVLPGs each page; past 33 it flushes the address space.
  const auto run = [&](int n) {
    std::string t = "!cpu 1\n";
    for (int i = 0; i < 40; ++i) {
      t += "R " + page(i) + "\n";
    }
    t += "!cpu 0\n";
    for (int i = 0; i < n; ++i) {
      t += "!ptewrite " + page(i) + " remap\n";
    }
    for (int i = 0; i < n; ++i) {
      t += "!invlpg " + page(i) + "\n";
    }
    t += "!cpu 1\n";
    for (int i = 0; i < 40; ++i) {
      t += "R " + page(i) + "\n";
    }
    return replay(dir, t, "--set cores=2");
  };
  auto few = run(10);
  EXPECT_EQ(few["sim.shootdowns"], 1);
  EXPECT_EQ(few["sim.ipis"], 1);
  // CPU 1's second pass misses the STLB on exactly the 10 pages shot down (40 first-pass
  // misses, then 10).
  EXPECT_EQ(few["cpu1.tlb.l2.misses"], 40 + 10);
  auto many = run(34);
  EXPECT_EQ(many["sim.ipis"], 1);
  // 34 > 33 pages: the target flushed its whole PCID, so all 40 pages miss again.
  EXPECT_EQ(many["cpu1.tlb.l2.misses"], 40 + 40);
  // The totals are the sums of the CPUs' TLB counters.
  EXPECT_EQ(many["tlb.l2.misses"], many["cpu0.tlb.l2.misses"] + many["cpu1.tlb.l2.misses"]);
}

TEST(Shootdown, HostInvalidationReachesEveryVcpu) {
  TempDir dir;
  // Each of 3 vCPUs reads the page; the VMM drops it (madvise: the mmu_notifier zaps the EPT
  // leaf and KVM flushes every vCPU's TLBs); each vCPU's next read misses its TLBs again.
  // The guest frame of GVA 0x1000 is the guest kernel's choice, so the VMM drops all of
  // guest RAM (GPAs 0 to vm.memory).
  std::string t;
  for (int c = 0; c < 3; ++c) {
    t += "!cpu " + std::to_string(c) + "\nR 0x1000\n";
  }
  t += "!madvise dontneed 0x0 67108864\n";
  for (int c = 0; c < 3; ++c) {
    t += "!cpu " + std::to_string(c) + "\nR 0x1000\n";
  }
  auto s = replay(dir, t, "--set mode=nested --set vm.vcpus=3 --set vm.memory=64MiB");
  for (int c = 0; c < 3; ++c) {
    const std::string p = "cpu" + std::to_string(c);
    EXPECT_EQ(s[p + ".tlb.l2.misses"], 2) << p;  // the first read, and the one after the zap
  }
  // The event runs on vCPU 2: KVM's flush reaches vCPUs 0 and 1 remotely.
  EXPECT_EQ(s["sim.remote_flushes"], 2);
  EXPECT_EQ(s["cpu0.sim.remote_flushes"], 1);
  EXPECT_EQ(s["cpu2.sim.remote_flushes"], 0);
}

TEST(Shootdown, ACpuBackInAnAddressSpaceChangedMeanwhileFlushesItAtTheSwitch) {
  TempDir dir;
  // CPU 1 reads page 0 in address space 0, then runs address space 5; CPU 0 changes page 0's
  // PTE and flushes it: CPU 1, away, gets no IPI. Back in address space 0, Linux's
  // switch_mm_irqs_off finds its tlb_gen behind the mm's and loads CR3 with a flush, so its
  // next read of page 0 misses its TLB (a second STLB miss) and --check finds nothing stale.
  const std::string t = "!cpu 1\nR " + page(0) + "\n!cr3 5\nR " + page(1) + "\n!cpu 0\nR " +
                        page(0) + "\n!ptewrite " + page(0) + " remap\n!invlpg " + page(0) +
                        "\n!cpu 1\n!cr3 0\nR " + page(0) + "\n!cr3 5\n!cr3 0\nR " + page(0) + "\n";
  for (const std::string mode : {"--set cores=2", "--set mode=nested --set vm.vcpus=2",
                                 "--set mode=shadow --set vm.vcpus=2"}) {
    auto s = replay(dir, t, mode + " --check");
    EXPECT_EQ(s["sim.ipis"], 0) << mode;
    // One flush at the first switch back; the second switch back finds nothing new.
    EXPECT_EQ(s["sim.switch_flushes"], 1) << mode;
    // CPU 1's STLB misses: page 0, page 1, page 0 after the flush (the last read hits).
    EXPECT_EQ(s["cpu1.tlb.l2.misses"], 3) << mode;
  }
}

TEST(Shootdown, ACpuPastTheMachinesIsRefusedNamingTheKey) {
  TempDir dir;
  write_text(dir.file("t.trace"), "R 0x1000\n!cpu 2\nR 0x1000\n");
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " --quiet --set cores=2"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("trace record 2: !cpu 2: the machine has 2 CPUs, 0 to 1 (the key "
                          "cores)"),
            std::string::npos)
      << r.output;
  r = run_command(pagesim("replay " + dir.file("t.trace") + " --quiet --set mode=shadow"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("trace record 2: !cpu 2: the machine has one CPU, CPU 0 (the key "
                          "vm.vcpus)"),
            std::string::npos)
      << r.output;
  r = run_command(pagesim("replay " + dir.file("t.trace") +
                          " --quiet --set mode=nested "
                          "--set cores=2"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("cores is native mode's"), std::string::npos) << r.output;
}

TEST(Shootdown, ShadowVcpusExitForIpisAndForEachTargetsInvlpg) {
  TempDir dir;
  auto s = replay(dir, shootdowns(4, 100), "--set mode=shadow --set vm.vcpus=4 --check");
  // As in nested mode: 100 shootdowns of 3 IPIs, each ICR write an exit.
  EXPECT_EQ(s["sim.shootdowns"], 100);
  EXPECT_EQ(s["sim.ipis"], 300);
  EXPECT_EQ(s["vmexits.ipi"], 300);
  // Shadow paging: vCPU 0's 100 INVLPGs exit, and so does each target's: 100 + 300.
  EXPECT_EQ(s["vmexits.invlpg"], 100 + 300);
  // Four vCPUs on address space 0: one root shadow page (kvm_mmu_get_page finds vCPU 0's).
  EXPECT_EQ(s["shadow.roots_created"], 1);
  // Only page 0 is mapped (each vCPU read it): its remap makes the guest's PT unsync, and
  // vCPU 0's INVLPG syncs the leaf, which maps another frame now: dropped, a remote flush of
  // the 3 other vCPUs (kvm_flush_remote_tlbs). The other 99 remaps find nothing to change.
  EXPECT_EQ(s["shadow.invlpg_syncs"], 1);
  EXPECT_EQ(s["sim.remote_flushes"], 300 + 3);
  // The sender: 3 x ipi_cycles + ipi_handler_cycles + 3 ICR exits per shootdown; each target
  // its handler and its INVLPG's exit (1200 + 800).
  const double sender = 100 * (3 * 1000 + 1500 + 3 * 1200);
  EXPECT_EQ(s["sim.shootdown_cycles"], sender + 300 * (1500 + 1200 + 800));
  auto pv = replay(dir, shootdowns(4, 100),
                   "--set mode=shadow --set vm.vcpus=4 "
                   "--set vm.pv_send_ipi=true");
  EXPECT_EQ(pv["vmexits.ipi"], 100);  // one hypercall per shootdown
  EXPECT_EQ(pv["vmexits.invlpg"], 400);
  auto ipiv = replay(dir, shootdowns(4, 100),
                     "--set mode=shadow --set vm.vcpus=4 "
                     "--set vm.ipi_virtualization=true");
  EXPECT_EQ(ipiv["vmexits.ipi"], 0);
  EXPECT_EQ(ipiv["vmexits.invlpg"], 400);  // INVLPG exits whatever the APIC does
}

TEST(Shootdown, ShadowEmulatedGuestTableWriteOnOneVcpuFlushesTheOthersTlbs) {
  TempDir dir;
  // vCPU 1 reads page 0; vCPU 0 remaps it with no INVLPG. With wp_policy = emulate the
  // guest's PT is write-protected: the store exits, KVM emulates it and zaps the shadow leaf
  // made from the old entry, and kvm_flush_remote_tlbs empties vCPU 1's TLBs too: its next
  // read misses again (and --check agrees with the new frame). With wp_policy = unsync the
  // PT goes unsync instead: nothing is flushed, as on hardware the guest owes an INVLPG.
  const std::string t = "!cpu 1\nR " + page(0) + "\n!cpu 0\n!ptewrite " + page(0) +
                        " remap\n!cpu 1\nR " + page(0) + "\n";
  auto s =
      replay(dir, t, "--set mode=shadow --set vm.vcpus=2 --set shadow.wp_policy=emulate --check");
  EXPECT_EQ(s["cpu1.tlb.l2.misses"], 2);
  EXPECT_GE(s["cpu1.sim.remote_flushes"], 1);
  auto unsync = replay(dir, t, "--set mode=shadow --set vm.vcpus=2 --set shadow.wp_policy=unsync");
  EXPECT_EQ(unsync["cpu1.tlb.l2.misses"], 1);
  EXPECT_EQ(unsync["cpu1.sim.remote_flushes"], 0);
}

// A trace of 4 vCPUs interleaving accesses, CR3 writes, PTE changes with their INVLPGs and
// the VMM's madvise, drawn from `seed`. Before a vCPU changes PTEs of its address space,
// every other vCPU that ran that address space switches back to it (Linux flushes a PCID
// whose mm changed while the CPU was away at the switch back, switch_mm_irqs_off's tlb_gen
// check, which the core does not model): they are the shootdown's targets.
std::string interleaved_trace(std::uint64_t seed, int steps) {
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  const auto next = [&x](std::uint64_t n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x % n;
  };
  constexpr int kCpus = 4;
  std::vector<int> asid(kCpus, 0);
  std::vector<std::set<int>> ran(kCpus, std::set<int>{0});
  int cpu = 0;
  std::string t;
  for (int i = 0; i < steps; ++i) {
    const std::uint64_t r = next(100);
    if (r < 10) {
      cpu = static_cast<int>(next(kCpus));
      t += "!cpu " + std::to_string(cpu) + "\n";
    } else if (r < 14) {
      asid[cpu] = static_cast<int>(next(3));
      ran[cpu].insert(asid[cpu]);
      t += "!cr3 " + std::to_string(asid[cpu]) + "\n";
    } else if (r < 19) {
      const int a = asid[cpu];
      for (int j = 0; j < kCpus; ++j) {
        if (j != cpu && ran[j].count(a) != 0 && asid[j] != a) {
          t += "!cpu " + std::to_string(j) + "\n!cr3 " + std::to_string(a) + "\n";
          asid[j] = a;
        }
      }
      t += "!cpu " + std::to_string(cpu) + "\n";
      std::vector<int> pages;
      for (std::uint64_t n = 1 + next(3); n > 0; --n) {
        pages.push_back(static_cast<int>(next(64)));
        t += "!ptewrite " + page(pages.back()) + (next(3) == 0 ? " unmap\n" : " remap\n");
      }
      for (const int p : pages) {
        t += "!invlpg " + page(p) + "\n";
      }
    } else if (r < 21) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "!madvise dontneed 0x%llx 2097152\n",
                    static_cast<unsigned long long>(next(32) * 2097152));
      t += buf;
    } else {
      t += (next(4) == 0 ? "W " : "R ") + page(static_cast<int>(next(64))) + "\n";
    }
  }
  return t;
}

TEST(Shootdown, ShadowVcpusInterleavedTracesPassTheCheck) {
  TempDir dir;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    for (const char* wp : {"unsync", "emulate"}) {
      auto s = replay(dir, interleaved_trace(seed, 3000),
                      std::string("--set mode=shadow --set vm.vcpus=4 --set vm.memory=64MiB "
                                  "--check --set shadow.wp_policy=") +
                          wp);
      EXPECT_GE(s["sim.checks"], s["sim.accesses"]) << seed << " " << wp;
      EXPECT_GT(s["sim.shootdowns"], 0) << seed << " " << wp;
      EXPECT_GT(s["cpu3.sim.accesses"], 0) << seed << " " << wp;
    }
  }
}

// CPUs 1 .. 3 read page 500, then CPU 0 reads it and makes 100 PTE changes of pages 0 ..
// 99 (no CPU has touched them: no TLB entry, and in shadow mode no shadow leaf, whose change
// KVM would flush from every vCPU), each with its INVLPG; then CPU 1 reads page 500 again.
// The order CPUs started running records: 0 (power-on), 1, 2, 3, 0; with vm.pcpus = 2 the
// host runs 0 and 3, and has 1 and 2 preempted during the shootdowns.
std::string preempted_shootdowns() {
  std::string t;
  for (int c = 1; c < 4; ++c) {
    t += "!cpu " + std::to_string(c) + "\nR " + page(500) + "\n";
  }
  t += "!cpu 0\nR " + page(500) + "\n";
  for (int i = 0; i < 100; ++i) {
    t += "!ptewrite " + page(i) + " remap\n!invlpg " + page(i) + "\n";
  }
  t += "!cpu 1\nR " + page(500) + "\n";
  return t;
}

TEST(Shootdown, PvTlbFlushFlagsPreemptedVcpusInPlaceOfIpis) {
  TempDir dir;
  const std::string t = preempted_shootdowns();
  for (const char* mode : {"nested", "shadow"}) {
    SCOPED_TRACE(mode);
    const std::string set = std::string("--set mode=") + mode + " --set vm.vcpus=4";
    auto pv = replay(dir, t, set + " --set vm.pcpus=2");  // vm.pv_tlb_flush is on by default
    // Each of the 100 shootdowns: one IPI (vCPU 3 runs), two flags (vCPUs 1 and 2).
    EXPECT_EQ(pv["sim.shootdowns"], 100);
    EXPECT_EQ(pv["sim.ipis"], 100);
    EXPECT_EQ(pv["sim.pv_tlb_flushes"], 200);
    EXPECT_EQ(pv["sim.preempted_ipis"], 0);
    EXPECT_EQ(pv["vmexits.ipi"], 100);  // one ICR write each
    EXPECT_EQ(pv["cpu3.sim.ipis_received"], 100);
    EXPECT_EQ(pv["cpu1.sim.ipis_received"], 0);
    EXPECT_EQ(pv["cpu2.sim.ipis_received"], 0);
    // vCPU 3's 100 handlers, and vCPU 1's one whole flush when it runs again (vCPU 2 never
    // does).
    EXPECT_EQ(pv["cpu3.sim.remote_flushes"], 100);
    EXPECT_EQ(pv["cpu1.sim.remote_flushes"], 1);
    EXPECT_EQ(pv["cpu2.sim.remote_flushes"], 0);
    EXPECT_EQ(pv["sim.remote_flushes"], 101);

    // Every vCPU running (vm.pcpus = 0): three IPIs each, and vCPU 1's INVLPGs leave page
    // 500's entry, which its last read hits; after the PV flush that read misses both TLB
    // levels. Everything vCPU 1 did before is the same in both runs.
    auto all = replay(dir, t, set);
    EXPECT_EQ(all["sim.ipis"], 300);
    EXPECT_EQ(all["sim.pv_tlb_flushes"], 0);
    EXPECT_EQ(pv["cpu1.tlb.l1d.misses"], all["cpu1.tlb.l1d.misses"] + 1);
    EXPECT_EQ(pv["cpu1.tlb.l2.misses"], all["cpu1.tlb.l2.misses"] + 1);
  }
}

TEST(Shootdown, IpisToPreemptedVcpusWaitWithoutThePvFlush) {
  TempDir dir;
  auto s = replay(dir, preempted_shootdowns(),
                  "--set mode=nested --set vm.vcpus=4 --set vm.pcpus=2 "
                  "--set vm.pv_tlb_flush=false --set vm.preempted_ipi_wait=50000");
  EXPECT_EQ(s["sim.ipis"], 300);
  EXPECT_EQ(s["sim.preempted_ipis"], 200);  // vCPUs 1 and 2, 100 times
  EXPECT_EQ(s["sim.pv_tlb_flushes"], 0);
  EXPECT_EQ(s["vmexits.ipi"], 300);
  // The sender: 3 IPIs, one wait for the handlers, 3 exits, and the wait for the preempted
  // ones; each target runs 100 handlers (nested: INVLPG does not exit).
  const double sender = 100 * (3 * 1000 + 1500 + 3 * 1200 + 50000);
  EXPECT_EQ(s["sim.shootdown_cycles"], sender + 300 * 1500);
  // Enough host CPUs (vm.pcpus = vm.vcpus): nobody is preempted, nothing waits.
  auto enough = replay(dir, preempted_shootdowns(),
                       "--set mode=nested --set vm.vcpus=4 --set vm.pcpus=4 "
                       "--set vm.pv_tlb_flush=false --set vm.preempted_ipi_wait=50000");
  EXPECT_EQ(enough["sim.preempted_ipis"], 0);
  EXPECT_EQ(enough["sim.shootdown_cycles"], 100 * (3 * 1000 + 1500 + 3 * 1200) + 300 * 1500);
}

TEST(Shootdown, PreemptedVcpusPassTheCheck) {
  TempDir dir;
  for (const char* mode : {"nested", "shadow"}) {
    auto s = replay(dir, preempted_shootdowns(),
                    std::string("--set mode=") + mode +
                        " --set vm.vcpus=4 --set vm.pcpus=1 --set sim.check=true");
    EXPECT_GT(s["sim.checks"], 0) << mode;
    EXPECT_EQ(s["sim.pv_tlb_flushes"], 300) << mode;  // every other vCPU preempted
  }
}

TEST(Shootdown, ShadowPvTlbFlushSyncsTheRootsAtEntry) {
  TempDir dir;
  // Both vCPUs read pages 500 and 3; vCPU 0 rewrites page 3's PTE (a store to a guest table
  // KVM shadows: the last-level page goes unsync, mmu_try_to_unsync_pages) and INVLPGs it;
  // then vCPU 1 runs again.
  const std::string t = "!cpu 1\nR " + page(500) + "\nR " + page(3) + "\n!cpu 0\nR " + page(500) +
                        "\nR " + page(3) + "\n!ptewrite " + page(3) + " remap\n!invlpg " + page(3) +
                        "\n!cpu 1\nR " + page(500) + "\n";
  const std::string set = "--set mode=shadow --set vm.vcpus=2";
  // Both running: vCPU 1's handler INVLPGs page 3 (an exit, FNAME(invlpg) refreshing that
  // one entry): two INVLPG exits, one IPI exit, no sync of the page.
  auto ipi = replay(dir, t, set);
  EXPECT_EQ(ipi["vmexits.invlpg"], 2);
  EXPECT_EQ(ipi["vmexits.ipi"], 1);
  EXPECT_EQ(ipi["shadow.sync"], 0);
  // vCPU 1 preempted (vm.pcpus = 1): flagged, no IPI and no handler; at its entry KVM's
  // kvm_vcpu_flush_tlb_guest syncs the roots (kvm_mmu_sync_roots): the unsync page, once.
  auto pv = replay(dir, t, set + " --set vm.pcpus=1");
  EXPECT_EQ(pv["sim.pv_tlb_flushes"], 1);
  EXPECT_EQ(pv["vmexits.invlpg"], 1);
  EXPECT_EQ(pv["vmexits.ipi"], 0);
  EXPECT_EQ(pv["shadow.sync"], 1);
  EXPECT_EQ(pv["cpu1.sim.remote_flushes"], ipi["cpu1.sim.remote_flushes"]);
}

TEST(Shootdown, SeveralCpusReplayDeterministically) {
  TempDir dir;
  std::string t = shootdowns(4, 50) + sweep_trace(kBase, 64, 2, 2);
  write_text(dir.file("t.trace"), t);
  const std::string cmd =
      "replay " + dir.file("t.trace") + " --quiet --set mode=nested --set vm.vcpus=4 --json ";
  ASSERT_EQ(run_command(pagesim(cmd + dir.file("a.json"))).status, 0);
  ASSERT_EQ(run_command(pagesim(cmd + dir.file("b.json"))).status, 0);
  auto strip = [&](const std::string& f) {
    std::ifstream in(f);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return without_provenance(text);
  };
  EXPECT_EQ(strip(dir.file("a.json")), strip(dir.file("b.json")));
}

}  // namespace
}  // namespace pagesim::testing
