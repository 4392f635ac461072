// The shadow machine with several vCPUs (vm.vcpus, issue 20): KVM's shadow pages are the VM's,
// each vCPU has its root, prev_roots and paging-structure caches (shadow_mmu.h, "Several
// vCPUs"). The rules the tests derive their counts from:
//  - kvm_mmu_get_page looks a root up by (guest CR3 gfn, role) in the VM's hash: two vCPUs
//    on one guest CR3 share one root shadow page (root_count 2), created once.
//  - a CR3 write's fast_pgd_switch looks in the current vCPU's prev_roots only; a root not
//    there is a kvm_mmu_get_page lookup (shadow.get_page), found or created.
//  - a root a vCPU holds (its root, a cached prev_root: root_count > 0) is not recycled by
//    kvm_mmu_zap_oldest_mmu_pages, whichever vCPU makes the fault that recycles.
//  - kvm_mmu_zap_all_fast only invalidates the roots vCPUs hold; each vCPU drops its
//    references at its next entry (kvm_mmu_free_obsolete_roots) and the last drop is the
//    root's second kvm_mmu_prepare_zap_page (shadow.zaps).
//  - kvm_flush_remote_tlbs (a zap, an emulated write to a write-protected guest table)
//    reaches every vCPU; MOV CR3 and INVLPG flush the current vCPU's only.
// The machine set-up is shadow_machine_test.cc's: a 4 GiB guest, 4-level paging, guest
// tables from 1 MiB in slot 1, data from the top of slot 2 ([4G, 5G)), prefetch off, the
// paging-structure caches off unless said.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>

#include "models/host/qemu_layout.h"
#include "models/machine/shadow_machine.h"
#include "models/machine/shadow_test_util.h"

namespace pagesim::shadow {
namespace {

constexpr std::uint64_t MiB = 1024 * 1024;
constexpr std::uint64_t GiB = 1024 * MiB;
// A 1 GiB-aligned GVA: PML4 index 0, PDPT index 256, PD and PT index 0.
constexpr std::uint64_t kBase = 0x40'0000'0000;

ShadowMachineParams params(unsigned vcpus, WpPolicy policy = WpPolicy::kUnsync) {
  ShadowMachineParams p = shadow_test::small_machine(policy);
  p.vm.vcpus = vcpus;
  return p;
}

using shadow_test::stat;

void expect_truth(ShadowMachine& m, const TouchResult& t, Gva gva, std::uint16_t pcid) {
  ASSERT_EQ(t.outcome, TouchResult::Outcome::kOk);
  const std::optional<Translation> truth = m.translate_debug(gva, pcid);
  ASSERT_TRUE(truth.has_value());
  EXPECT_EQ(t.translation.hpa_of(gva.value()), truth->hpa_of(gva.value()));
}

// The frames the walker's paging-structure caches hold, every vCPU's.
unsigned cached_frames(ShadowMachine& m) {
  unsigned n = 0;
  m.walker().for_each_cached_hpa([&](Hpa, const char*) { ++n; });
  return n;
}

TEST(ShadowVcpus, TheMachineOffersVmVcpusCpus) {
  ShadowMachine m(params(3));
  EXPECT_EQ(m.processor().cpus, 3u);
  EXPECT_EQ(m.processor().cpus_key, "the key vm.vcpus");
  EXPECT_EQ(m.mmu().vcpus(), 3u);
  EXPECT_THROW(m.switch_cpu(3), std::out_of_range);
}

TEST(ShadowVcpus, TwoVcpusOnOneCr3ShareOneRootShadowPage) {
  ShadowMachine m(params(2));
  const Gva a(kBase);
  expect_truth(m, m.touch(a, AccessKind::kRead, 0), a, 0);  // root, PDPT, PD, PT shadows
  const Hpa root0 = m.mmu().root_hpa();
  const std::uint64_t exits = stat(m, "vmexits.total");
  m.switch_cpu(1);
  EXPECT_FALSE(m.mmu().root_loaded());  // vCPU 1 has not entered yet
  const TouchResult t = m.touch(a, AccessKind::kRead, 0);
  expect_truth(m, t, a, 0);
  // vCPU 1's first entry loads its root (kvm_mmu_load, no exit): the hash's, made by
  // vCPU 0; the shadow below it is shared, so the walk finds the leaf at once.
  EXPECT_EQ(m.mmu().root_hpa(), root0);
  EXPECT_EQ(t.shadow_faults, 0u);
  EXPECT_FALSE(t.cr3_switch);
  EXPECT_EQ(stat(m, "vmexits.total"), exits);
  EXPECT_EQ(stat(m, "shadow.roots_created"), 1u);  // not 2
  EXPECT_EQ(stat(m, "shadow.pages_created"), 4u);
}

TEST(ShadowVcpus, EachVcpuHasItsOwnPrevRoots) {
  ShadowMachine m(params(2));
  const Gva a(kBase);
  m.touch(a, AccessKind::kRead, 0);
  m.cr3_write(1);  // vCPU 0: root1 current, root0 in its prev_roots
  ASSERT_EQ(stat(m, "shadow.roots_created"), 2u);
  std::uint64_t lookups = stat(m, "shadow.get_page");
  // vCPU 0 back to address space 0: fast_pgd_switch finds root0 in its prev_roots, no
  // kvm_mmu_get_page.
  m.cr3_write(0);
  EXPECT_EQ(stat(m, "shadow.get_page"), lookups);
  // vCPU 1 has cached nothing: each of its CR3 writes to a root it has not held looks the
  // root up in the VM's hash (found: no root created); back to one it holds in its own
  // prev_roots, none.
  m.switch_cpu(1);
  m.cr3_write(1);
  EXPECT_EQ(stat(m, "shadow.get_page"), lookups + 1);
  m.cr3_write(0);
  EXPECT_EQ(stat(m, "shadow.get_page"), lookups + 2);
  m.cr3_write(1);
  EXPECT_EQ(stat(m, "shadow.get_page"), lookups + 2);
  EXPECT_EQ(stat(m, "shadow.roots_created"), 2u);
  // vCPU 0's cache is as it left it: root1 comes back with no lookup.
  m.switch_cpu(0);
  m.cr3_write(1);
  EXPECT_EQ(stat(m, "shadow.get_page"), lookups + 2);
}

TEST(ShadowVcpus, ARootZappedUnderAnotherVcpuIsReloadedWhenItRunsAndFreedByTheLastHolder) {
  ShadowMachine m(params(2));
  const Gva a(kBase);
  m.touch(a, AccessKind::kRead, 0);
  m.switch_cpu(1);
  m.touch(a, AccessKind::kRead, 0);  // the same root: root_count 2
  ASSERT_EQ(m.mmu().live_pages(), 4u);
  // vCPU 1 deletes the data slot: kvm_mmu_zap_all_fast zaps the 4 pages; the root, held by
  // both vCPUs, is only invalidated.
  const host::Memslot old = *m.vmm().memslots().find_id(host::kRamAbove4gSlot);
  m.remove_memslot(host::kRamAbove4gSlot);
  m.add_memslot(host::kRamAbove4gSlot, old.base, old.bytes, old.readonly, old.hva);
  EXPECT_EQ(stat(m, "shadow.zaps"), 4u);
  EXPECT_FALSE(m.mmu().root_loaded());
  // vCPU 1's next entry drops its reference: vCPU 0 still holds the root, so no second zap
  // yet. It loads a new root and its fault rebuilds PDPT, PD, PT.
  TouchResult t = m.touch(a, AccessKind::kRead, 0);
  expect_truth(m, t, a, 0);
  EXPECT_FALSE(t.cr3_switch);
  EXPECT_EQ(stat(m, "shadow.zaps"), 4u);
  EXPECT_EQ(stat(m, "shadow.roots_created"), 2u);
  const Hpa new_root = m.mmu().root_hpa();
  // vCPU 0 ran nothing meanwhile: its root is gone, and it reloads at its next entry (no
  // exit, no CR3 write). Its drop is the last: the old root's second zap. The root it
  // loads is vCPU 1's new one, whose shadow maps `a` already.
  m.switch_cpu(0);
  EXPECT_FALSE(m.mmu().root_loaded());
  const std::uint64_t exits = stat(m, "vmexits.total");
  t = m.touch(a, AccessKind::kRead, 0);
  expect_truth(m, t, a, 0);
  EXPECT_FALSE(t.cr3_switch);
  EXPECT_EQ(t.shadow_faults, 0u);
  EXPECT_EQ(stat(m, "vmexits.total"), exits);
  EXPECT_EQ(m.mmu().root_hpa(), new_root);
  EXPECT_EQ(stat(m, "shadow.zaps"), 5u);
  EXPECT_EQ(stat(m, "shadow.roots_created"), 2u);
}

TEST(ShadowVcpus, AnAddressSpaceTornDownOnOneVcpuLeavesTheOtherWithoutItsRoot) {
  ShadowMachine m(params(2));
  const Gva a(kBase);
  m.touch(a, AccessKind::kRead, 1);  // vCPU 0 runs address space 1
  m.switch_cpu(1);
  m.touch(a, AccessKind::kRead, 0);  // vCPU 1 runs address space 0
  const EventResult e = m.exit_address_space(1);
  EXPECT_EQ(e.flush, TlbFlush::all());  // its shadow pages zapped: every vCPU
  m.switch_cpu(0);
  // vCPU 0's root was among them: it has none, and its next access is in a fresh address
  // space 1, which the guest must load first (a CR3 write).
  EXPECT_FALSE(m.mmu().root_loaded());
  EXPECT_FALSE(m.current_pcid().has_value());
  const TouchResult t = m.touch(a, AccessKind::kRead, 1);
  expect_truth(m, t, a, 1);
  EXPECT_TRUE(t.cr3_switch);
}

TEST(ShadowVcpus, RecyclingSkipsTheRootAnotherVcpuRuns) {
  // shadow_machine_test.cc's RecyclingSkipsTheRootsKvmHoldsInPrevRoots with root0 held as
  // vCPU 0's current root instead of a prev_root of the vCPU that recycles.
  ShadowMachineParams p = params(2);
  p.shadow.max_pages = 40;
  ShadowMachine m(p);
  m.touch(Gva(kBase), AccessKind::kRead, 0);  // vCPU 0: root0, PDPT0, PD0, PT0
  m.switch_cpu(1);
  // Touch j on vCPU 1 under pcid 1 maps kBase + (j - 1) * 2M: j = 1 loads root1 (vCPU 1's
  // first root) and adds PDPT1, PD1, PT1, each later one its PT: 7 + j live after it. Its
  // fault recycles when fewer than 5 pages are free: 6 + j > 35 before touch 30, 4 free,
  // so kvm_mmu_zap_oldest_mmu_pages(25 - 4 = 21) from the oldest, skipping root0 (vCPU 0's
  // root_count) and root1 (vCPU 1's): PDPT0, PD0, PT0, PDPT1, PD1, PT1..PT16. 15 live; the
  // fault rebuilds PDPT1, PD1 and makes PT30: 18.
  for (std::uint64_t j = 1; j <= 30; ++j) {
    const Gva gva(kBase + (j - 1) * 2 * MiB);
    expect_truth(m, m.touch(gva, AccessKind::kRead, 1), gva, 1);
  }
  EXPECT_EQ(stat(m, "shadow.recycled"), 21u);
  EXPECT_EQ(stat(m, "shadow.pages"), 18u);
  // vCPU 0 still has root0: no reload, no new root; one fault rebuilds PDPT0, PD0, PT0.
  m.switch_cpu(0);
  EXPECT_TRUE(m.mmu().root_loaded());
  const std::uint64_t created = stat(m, "shadow.pages_created");
  const TouchResult t = m.touch(Gva(kBase), AccessKind::kRead, 0);
  expect_truth(m, t, Gva(kBase), 0);
  EXPECT_EQ(stat(m, "shadow.roots_created"), 2u);
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(stat(m, "shadow.pages_created"), created + 3);
}

TEST(ShadowVcpus, AnEmulatedGuestTableWriteFlushesEveryVcpuAnInvlpgOnlyItsOwn) {
  ShadowMachineParams p = params(2, WpPolicy::kEmulate);
  p.walker.pwc.enabled = true;
  ShadowMachine m(p);
  const Gva a(kBase);
  const Gva b(kBase + 2 * MiB);  // another PT: the write below does not touch its path
  m.switch_cpu(1);
  m.touch(a, AccessKind::kRead, 0);
  m.touch(b, AccessKind::kRead, 0);  // vCPU 1's paging-structure caches hold the path
  m.switch_cpu(0);
  const unsigned cached = cached_frames(m);
  ASSERT_GT(cached, 0u);  // vCPU 1's, parked: vCPU 0 has walked nothing
  // INVLPG on vCPU 0 is its own: the page on its TLBs, its caches.
  EventResult e = m.invlpg(b, 0);
  EXPECT_EQ(e.flush, TlbFlush::page(b, 0));
  EXPECT_EQ(cached_frames(m), cached);
  // The guest kernel on vCPU 0 changes the PTE of `a`: its PT is write-protected (wp_policy
  // emulate), the store exits and is emulated, and the shadow leaf made from the old entry
  // is zapped: kvm_flush_remote_tlbs, vCPU 1's caches included.
  const std::uint64_t wp_writes = stat(m, "vmexits.wp_write");
  e = m.pte_write(a, PteOp::kRemap, 0);
  EXPECT_EQ(stat(m, "vmexits.wp_write"), wp_writes + 1);
  EXPECT_EQ(e.flush, TlbFlush::all());
  EXPECT_EQ(cached_frames(m), 0u);
}

TEST(ShadowVcpus, IpisExitPerTargetOncePerPvHypercallOrNever) {
  for (const auto& [ipiv, pv, exits] : {std::tuple{false, false, 3u}, std::tuple{false, true, 1u},
                                        std::tuple{true, false, 0u}, std::tuple{true, true, 0u}}) {
    ShadowMachineParams p = params(4);
    p.vm.ipi_virtualization = ipiv;
    p.vm.pv_send_ipi = pv;
    ShadowMachine m(p);
    const machine::IpiExits e = m.send_ipis(3);
    EXPECT_EQ(e.exits, exits) << ipiv << pv;
    EXPECT_EQ(e.cycles, Cycles(exits * p.vmexit.latency.count()));
    EXPECT_EQ(stat(m, "vmexits.ipi"), exits);
    EXPECT_EQ(stat(m, "vmexits.total"), exits);
  }
}

// shadow.vcpu_root_copy (kvm_pvm, shadow_params.h): each vCPU walks its own copy of its
// root's top-level entries, taken when it loads the root, refreshed when KVM flushes every
// vCPU and entry by entry at its own faults. kFar is in another top-level entry than kBase.
constexpr std::uint64_t kFar = 0x80'0000'0000;  // PML4 index 1

// vCPU 1 loads the root (its copy: top-level entry 0 only); vCPU 0 then maps two pages under
// top-level entry 1, which its own faults link. Returns the machine on vCPU 1.
void map_far_region_on_vcpu0(ShadowMachine& m) {
  m.switch_cpu(1);
  m.touch(Gva(kBase), AccessKind::kRead, 0);
  m.switch_cpu(0);
  for (std::uint64_t g : {kBase, kFar, kFar + 4096}) {
    const TouchResult t = m.touch(Gva(g), AccessKind::kRead, 0);
    ASSERT_EQ(t.outcome, TouchResult::Outcome::kOk);
  }
  m.switch_cpu(1);
}

TEST(ShadowVcpus, WithRootCopiesAVcpuFaultsOnceThroughATopLevelEntryAnotherVcpuMadePresent) {
  ShadowMachineParams p = params(2);
  p.shadow.vcpu_root_copy = true;
  ShadowMachine m(p);
  map_far_region_on_vcpu0(m);
  // vCPU 0's faults asked for no flush of every vCPU (no zap, no write protection: the
  // guest's tables are not mapped as data, prefetch is off), so vCPU 1's copy still lacks
  // top-level entry 1. Its own INVLPG of the address is a guest-requested flush, which
  // does not refresh the copy.
  m.invlpg(Gva(kFar), 0);
  const std::uint64_t spurious = stat(m, "shadow.pf_spurious");
  const std::uint64_t fixed = stat(m, "shadow.pf_fixed");
  const std::uint64_t exits = stat(m, "vmexits.page_fault");
  TouchResult t = m.touch(Gva(kFar), AccessKind::kRead, 0);
  expect_truth(m, t, Gva(kFar), 0);
  // The walk meets entry 1 not present in the copy: one fault, and KVM's own walk down the
  // root finds the leaf vCPU 0 made: spurious, nothing installed; the copy gets entry 1.
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(stat(m, "shadow.pf_spurious"), spurious + 1);
  EXPECT_EQ(stat(m, "shadow.pf_fixed"), fixed);
  EXPECT_EQ(stat(m, "vmexits.page_fault"), exits + 1);
  // The next page under entry 1 walks through the refreshed entry: no fault.
  t = m.touch(Gva(kFar + 4096), AccessKind::kRead, 0);
  expect_truth(m, t, Gva(kFar + 4096), 0);
  EXPECT_EQ(t.shadow_faults, 0u);
}

TEST(ShadowVcpus, WithoutRootCopiesTheOtherVcpuWalksTheSharedRoot) {
  // VMX/SVM: the hardware walks the root shadow page, where vCPU 0's link is (an entry
  // made present needs no flush, SDM Vol. 3A 4.10.4.3).
  ShadowMachine m(params(2));
  map_far_region_on_vcpu0(m);
  const TouchResult t = m.touch(Gva(kFar), AccessKind::kRead, 0);
  expect_truth(m, t, Gva(kFar), 0);
  EXPECT_EQ(t.shadow_faults, 0u);
  EXPECT_EQ(stat(m, "shadow.pf_spurious"), 0u);
}

TEST(ShadowVcpus, AFlushOfEveryVcpuRefreshesARootCopyAtTheVcpusNextEntry) {
  ShadowMachineParams p = params(2, WpPolicy::kEmulate);
  p.shadow.vcpu_root_copy = true;
  ShadowMachine m(p);
  map_far_region_on_vcpu0(m);
  m.switch_cpu(0);
  // vCPU 0 rewrites the PTE of kBase: emulated (wp_policy emulate), the leaf made from the
  // old entry zapped, kvm_flush_remote_tlbs: vCPU 1 refreshes its copy when it next runs.
  const EventResult e = m.pte_write(Gva(kBase), PteOp::kRemap, 0);
  ASSERT_EQ(e.flush, TlbFlush::all());
  m.switch_cpu(1);
  const TouchResult t = m.touch(Gva(kFar), AccessKind::kRead, 0);
  expect_truth(m, t, Gva(kFar), 0);
  EXPECT_EQ(t.shadow_faults, 0u);
  EXPECT_EQ(stat(m, "shadow.pf_spurious"), 0u);
}

TEST(ShadowVcpus, WithRootCopiesAVcpuNeverFaultsTwiceOnItsOwnLinks) {
  // vCPU 0's faults refresh the top-level entry of their address in its own copy, so the
  // pages after the one that linked entry 1 walk through it: the same faults as without
  // copies (each page a guest fault, the guest kernel maps it on demand, then the shadow
  // leaf's fault), none spurious.
  std::uint64_t faults[2] = {};
  for (const bool copies : {false, true}) {
    ShadowMachineParams p = params(2);
    p.shadow.vcpu_root_copy = copies;
    ShadowMachine m(p);
    for (std::uint64_t g : {kBase, kFar, kFar + 4096, kFar + 8192}) {
      expect_truth(m, m.touch(Gva(g), AccessKind::kRead, 0), Gva(g), 0);
    }
    faults[copies ? 1 : 0] = stat(m, "shadow.page_faults");
    EXPECT_EQ(stat(m, "shadow.pf_spurious"), 0u) << copies;
  }
  EXPECT_EQ(faults[1], faults[0]);
  EXPECT_GT(faults[0], 0u);
}

// The live pages at the first fault that recycles, touching one page per 2 MiB (a shadow
// page table each) on vCPU 1 after kvm_mmu_zap_all_fast; `vcpu0_holds`: vCPU 0 has not
// entered since, so it still holds the invalidated root.
std::uint64_t live_at_first_recycle(bool vcpu0_holds) {
  ShadowMachineParams p = params(2);
  p.shadow.max_pages = 40;
  ShadowMachine m(p);
  m.touch(Gva(kBase), AccessKind::kRead, 0);
  m.switch_cpu(1);
  m.touch(Gva(kBase), AccessKind::kRead, 0);  // the root both hold
  m.mmu().zap_all_fast();
  if (!vcpu0_holds) {
    m.switch_cpu(0);
    m.touch(Gva(kBase), AccessKind::kRead, 0);  // its next entry drops its hold
    m.switch_cpu(1);
  }
  for (std::uint64_t i = 0; i < 64; ++i) {
    const std::uint64_t live = m.mmu().live_pages();
    m.touch(Gva(kBase + i * 2 * MiB), AccessKind::kRead, 0);
    if (stat(m, "shadow.recycled") != 0) {
      return live;
    }
  }
  ADD_FAILURE() << "no recycling";
  return 0;
}

TEST(ShadowVcpus, AnInvalidatedRootAnotherVcpuHoldsCountsTowardThePageLimit) {
  // make_mmu_pages_available recycles when fewer than KVM_MIN_FREE_MMU_PAGES (5) of
  // shadow.max_pages (40) are free, counting n_used_mmu_pages: every page KVM has not freed,
  // an invalidated root still held (root_count) included. While vCPU 0 holds the root
  // kvm_mmu_zap_all_fast invalidated, a fault with 35 live pages sees 40 - 36 = 4 free and
  // recycles; once vCPU 0 has dropped it, one page later (40 - 36 = 4 at 36 live).
  EXPECT_EQ(live_at_first_recycle(true), 35u);
  EXPECT_EQ(live_at_first_recycle(false), 36u);
}

}  // namespace
}  // namespace pagesim::shadow
