// The shadow-paged machine: guest kernel, VMM, KVM's shadow MMU and the hardware walker over
// the shadow tables, real pieces throughout.
//
// Derivations below, for a fresh 4 GiB guest (qemu_layout.h: RAM [0, 640K), [1M, 3G) and
// [4G, 5G), slot 2 = [4G, 5G) at HVA kRamBase + 3G), 4-level guest paging unless said,
// guest.thp = host.thp = never unless said, paging-structure caches off and shadow.prefetch
// off unless said:
// - guest frames (frame_allocator.h, page_table_os.h): page tables ascend from 1 MiB (the
//   root at 1M, allocated when the address space is first used, then per fault the
//   missing PDPT, PD, PT top-down), data descend from 5G: 5G - 4K, 5G - 8K, ...
// - the guest kernel zeroes each new table frame: its VMM page is not resident yet, so the
//   kernel's access takes a shadow page fault that has the host fault it in (one exit,
//   shadow.kernel_faults); data pages are faulted in by the shadow fault of the access.
// - a first touch of a page: the hardware walk finds no shadow leaf -> shadow page fault;
//   KVM's software walk finds no guest entry -> the fault is reflected (shadow.pf_guest);
//   the guest kernel maps the page; the retried walk faults again -> KVM installs the
//   shadow entries (shadow.pf_fixed); the third walk succeeds. Two shadow page faults.
// - costs (defaults): exit 1200, shadow fault handling 4000, emulated write 5000, CR3 write
//   1500, INVLPG 800, sync 5000, host and guest 4 KiB faults 2600 each, 100 per reference.
#include "models/machine/shadow_machine.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "models/host/hypervisor.h"
#include "models/machine/shadow_test_util.h"
#include "models/paging/pte.h"

namespace pagesim::shadow {
namespace {

namespace pte = paging::pte;

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;
constexpr std::uint64_t kExit = 1200;
constexpr std::uint64_t kFaultHandling = 4000;
constexpr std::uint64_t kWpEmulation = 5000;
constexpr std::uint64_t kFault4k = 2600;  // host and guest kernels alike
constexpr std::uint64_t kRef = 100;
// A 1 GiB-aligned GVA: PML4 index 0, PDPT index 256, PD and PT index 0.
constexpr std::uint64_t kBase = 0x40'0000'0000;

ShadowMachineParams params(WpPolicy policy = WpPolicy::kUnsync, unsigned levels = 4) {
  ShadowMachineParams p = shadow_test::small_machine(policy);  // walks from the root
  p.guest_levels = levels;
  return p;
}

using shadow_test::stat;

// A guest page-table entry as it is in memory (through the VMM's mapping, no side effects).
std::uint64_t guest_entry(ShadowMachine& m, Gpa gpa) {
  const auto b = m.vmm().resident(gpa);
  EXPECT_TRUE(b.has_value());
  return b ? m.memory().read_u64(b->hpa) : 0;
}

std::string name(WpPolicy p) { return p == WpPolicy::kEmulate ? "emulate" : "unsync"; }

// The touch's translation is the truth (same page and size), or the test fails.
void expect_truth(ShadowMachine& m, const TouchResult& t, Gva gva, std::uint16_t pcid) {
  ASSERT_EQ(t.outcome, TouchResult::Outcome::kOk);
  const std::optional<Translation> truth = m.translate_debug(gva, pcid);
  ASSERT_TRUE(truth.has_value()) << std::hex << gva.value();
  EXPECT_EQ(t.translation.page_base, truth->page_base) << std::hex << gva.value();
  EXPECT_EQ(t.translation.size, truth->size) << std::hex << gva.value();
  EXPECT_EQ(t.translation.hpa_of(gva.value()), truth->hpa_of(gva.value()));
}

// ---- First touches.

TEST(ShadowMachine, FirstTouchCostsTwoShadowFaultsAndTheGuestFault) {
  ShadowMachine m(params(WpPolicy::kEmulate));
  const Gva gva(kBase);
  const TouchResult t = m.touch(gva, AccessKind::kRead);
  ASSERT_EQ(t.outcome, TouchResult::Outcome::kOk);
  // Walk 1: root empty (1 reference) -> shadow fault, reflected. The guest maps the page.
  // Walk 2: root empty still (1 reference) -> shadow fault, fixed. Walk 3: 4 references.
  EXPECT_EQ(t.walks, 3u);
  EXPECT_EQ(t.walk_cycles, Cycles(6 * kRef));
  EXPECT_EQ(t.shadow_faults, 2u);
  EXPECT_EQ(t.guest_faults, 1u);
  // The guest's fault: PDPT, PD and PT zeroed (3 kernel faults) and its root entry written
  // (the root is shadowed, write-tracked: one emulated write). The root itself was zeroed
  // before, when the first touch loaded the shadow root (a 4th kernel fault).
  EXPECT_EQ(t.guest_exits, 1u + 3u + 1u);
  EXPECT_EQ(t.host_faults, 1u);  // the data page, by the fixing fault
  // Cycles: root load's kernel fault (exit + handling + host fault), the reflected fault
  // (exit + handling), the guest's fault (2600 + 3 kernel faults + 1 emulated write), the
  // fixing fault (exit + handling + host fault), the walks.
  const std::uint64_t kernel_fault = kExit + kFaultHandling + kFault4k;
  EXPECT_EQ(t.cycles, Cycles(kernel_fault + (kExit + kFaultHandling) +
                             (kFault4k + 3 * kernel_fault + kExit + kWpEmulation) +
                             (kExit + kFaultHandling + kFault4k) + 6 * kRef));
  // Every cycle is a walk's, the guest kernel's or an exit's.
  EXPECT_EQ(t.cycles.count(),
            t.walk_cycles.count() + stat(m, "guest.cycles") + stat(m, "vmexits.cycles"));
  EXPECT_EQ(stat(m, "shadow.pages_created"), 4u);  // root, PDPT, PD, PT shadows
  EXPECT_EQ(stat(m, "shadow.roots_created"), 1u);
  // The data frame is the guest's first (5G - 4K); the shadow leaf maps its host frame.
  EXPECT_EQ(m.guest_os().lookup(0, gva)->page_base, Gpa(5 * GiB - 4 * KiB));
  expect_truth(m, t, gva, 0);
  // A read of a clean guest page: a read-only shadow leaf (protect_clean_gpte).
  EXPECT_FALSE(t.translation.writable);

  // Populated: one walk of `levels` references, nothing else.
  const TouchResult again = m.touch(gva, AccessKind::kRead);
  EXPECT_EQ(again.walks, 1u);
  EXPECT_EQ(again.walk.refs, 4u);
  EXPECT_EQ(again.cycles, Cycles(4 * kRef));
  EXPECT_EQ(again.shadow_faults, 0u);
  EXPECT_EQ(again.flush, TlbFlush::none());
}

class FirstTouches : public ::testing::TestWithParam<WpPolicy> {};

// N pages of one 2 MiB region: one guest PT, one shadow PT.
TEST_P(FirstTouches, NPagesMakeTwoShadowFaultsEach) {
  const WpPolicy policy = GetParam();
  constexpr std::uint64_t kPages = 64;
  ShadowMachine m(params(policy));
  for (std::uint64_t i = 0; i < kPages; ++i) {
    const Gva gva(kBase + i * 4 * KiB);
    const TouchResult t = m.touch(gva, AccessKind::kRead);
    expect_truth(m, t, gva, 0);
    EXPECT_EQ(t.shadow_faults, 2u);  // reflected, then fixed
    EXPECT_EQ(m.guest_os().lookup(0, gva)->page_base, Gpa(5 * GiB - (i + 1) * 4 * KiB));
  }
  // N shadow page faults of the accesses, plus N of their retries after the guest's faults.
  EXPECT_EQ(stat(m, "shadow.page_faults"), 2 * kPages);
  EXPECT_EQ(stat(m, "shadow.pf_guest"), kPages);
  EXPECT_EQ(stat(m, "shadow.pf_fixed"), kPages);
  EXPECT_EQ(stat(m, "shadow.sw_walks"), 2 * kPages);  // one per shadow fault
  EXPECT_EQ(stat(m, "guest.page_faults"), kPages);
  EXPECT_EQ(stat(m, "shadow.kernel_faults"), 4u);  // root, PDPT, PD, PT zeroed
  EXPECT_EQ(stat(m, "host.page_faults"), 4u + kPages);
  EXPECT_EQ(stat(m, "shadow.pages_created"), 4u);
  EXPECT_EQ(stat(m, "shadow.pages"), 4u);
  EXPECT_EQ(stat(m, "walker.walks"), 3 * kPages);
  // The guest's table writes: page 0 writes the root entry (root shadowed, write-tracked:
  // emulated under both policies) and the PDPT, PD and PT entries (not shadowed yet); each
  // later page writes one PTE into the PT, shadowed since page 0's fixing fault.
  //  emulate: each of those N - 1 writes exits and is emulated.
  //  unsync: page 1's write exits once and unsyncs the PT's shadow page; the rest are free.
  const std::uint64_t wp_exits = policy == WpPolicy::kEmulate ? kPages : 2;
  EXPECT_EQ(stat(m, "vmexits.wp_write"), wp_exits);
  EXPECT_EQ(stat(m, "shadow.wp_writes"), policy == WpPolicy::kEmulate ? kPages : 1u);
  EXPECT_EQ(stat(m, "shadow.unsync"), policy == WpPolicy::kEmulate ? 0u : 1u);
  EXPECT_EQ(stat(m, "shadow.sync"), 0u);                     // no sync point yet
  EXPECT_EQ(stat(m, "vmexits.page_fault"), 2 * kPages + 4);  // + the kernel faults
  EXPECT_EQ(stat(m, "vmexits.total"), 2 * kPages + 4 + wp_exits);
  EXPECT_EQ(stat(m, "vmexits.cr3_write"), 0u);
  EXPECT_EQ(stat(m, "vmexits.ept_violation"), 0u);
  EXPECT_EQ(stat(m, "vmexits.mmio"), 0u);
  EXPECT_TRUE(m.audit(0).empty());
}

INSTANTIATE_TEST_SUITE_P(Policies, FirstTouches,
                         ::testing::Values(WpPolicy::kEmulate, WpPolicy::kUnsync),
                         [](const auto& i) { return name(i.param); });

// ---- The hardware walk of the shadow table.

struct WalkCase {
  unsigned levels;
  os::Thp guest_thp;
  os::Thp host_thp;
  bool pwc;
};

class ShadowWalk : public ::testing::TestWithParam<WalkCase> {};

TEST_P(ShadowWalk, MakesAtMostLevelsReferences) {
  const WalkCase c = GetParam();
  ShadowMachineParams p = params(WpPolicy::kUnsync, c.levels);
  p.guest.thp = c.guest_thp;
  p.host.thp = c.host_thp;
  p.walker.pwc.enabled = c.pwc;
  ShadowMachine m(p);
  // The shadow leaf: 2 MiB only when both the guest page and the host page are 2 MiB (the
  // guest's 2 MiB frames in slot 2 are 2 MiB aligned in HVA space too: its HVA base is
  // kRamBase + 3G); else 4 KiB (a guest 2 MiB page over 4 KiB host pages gets a direct
  // shadow page of 4 KiB leaves).
  const bool huge = c.guest_thp == os::Thp::k2M && c.host_thp == os::Thp::k2M;
  const unsigned leaf_refs = huge ? c.levels - 1 : c.levels;
  std::vector<Gva> gvas;
  for (std::uint64_t i = 0; i < 40; ++i) {
    gvas.push_back(Gva(kBase + i * 3 * MiB + (i % 7) * 4 * KiB));
  }
  for (const Gva gva : gvas) {
    expect_truth(m, m.touch(gva, AccessKind::kRead), gva, 0);
  }
  for (const Gva gva : gvas) {
    const TouchResult t = m.touch(gva, AccessKind::kRead);
    ASSERT_EQ(t.walks, 1u);
    EXPECT_EQ(t.translation.size, huge ? PageSize::k2M : PageSize::k4K);
    // Each reference reads one shadow entry: at most one per level; with the caches off,
    // exactly one per level down to the leaf.
    EXPECT_LE(t.walk.refs, c.levels);
    if (!c.pwc) {
      EXPECT_EQ(t.walk.refs, leaf_refs);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(LevelsAndPages, ShadowWalk,
                         ::testing::Values(WalkCase{4, os::Thp::kNever, os::Thp::kNever, false},
                                           WalkCase{5, os::Thp::kNever, os::Thp::kNever, false},
                                           WalkCase{4, os::Thp::k2M, os::Thp::kNever, false},
                                           WalkCase{4, os::Thp::k2M, os::Thp::k2M, false},
                                           WalkCase{5, os::Thp::k2M, os::Thp::k2M, false},
                                           WalkCase{4, os::Thp::kNever, os::Thp::k2M, false},
                                           WalkCase{4, os::Thp::kNever, os::Thp::kNever, true},
                                           WalkCase{5, os::Thp::k2M, os::Thp::kNever, true}),
                         [](const auto& i) {
                           const WalkCase& c = i.param;
                           return "L" + std::to_string(c.levels) + "_guest" +
                                  std::string(page_size_name(os::thp_page_size(c.guest_thp))) +
                                  "_host" +
                                  std::string(page_size_name(os::thp_page_size(c.host_thp))) +
                                  (c.pwc ? "_pwc" : "");
                         });

// ---- Guest huge pages over small host pages: direct shadow pages of small leaves.

TEST(ShadowMachine, GuestHugePagesOnSmallHostPagesGetSmallShadowLeaves) {
  ShadowMachineParams p = params();
  p.guest.thp = os::Thp::k2M;
  ShadowMachine m(p);
  const Gva gva(kBase);
  // First touch: guest tables root, PDPT, PD (the leaf is a PDE); shadow: root, PDPT and PD
  // shadows (indirect), and a direct shadow page at level 1 for the 2 MiB guest page.
  TouchResult t = m.touch(gva, AccessKind::kRead);
  expect_truth(m, t, gva, 0);
  EXPECT_EQ(t.translation.size, PageSize::k4K);
  EXPECT_EQ(stat(m, "shadow.pages_created"), 4u);
  EXPECT_EQ(stat(m, "shadow.kernel_faults"), 3u);
  // The guest's page is the top 2 MiB of slot 2; the shadow leaf maps its first 4 KiB.
  EXPECT_EQ(m.guest_os().lookup(0, gva)->page_base, Gpa(5 * GiB - 2 * MiB));

  // Another 4 KiB of the same guest page: one shadow fault (no guest fault), its host page
  // faulted in, a leaf in the same direct page.
  const Gva next = gva + 5 * 4 * KiB;
  t = m.touch(next, AccessKind::kRead);
  expect_truth(m, t, next, 0);
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(t.guest_faults, 0u);
  EXPECT_EQ(t.host_faults, 1u);
  EXPECT_EQ(stat(m, "shadow.pages_created"), 4u);
  EXPECT_EQ(stat(m, "guest.page_faults"), 1u);

  // A store: the guest PDE was clean, so the direct page was made without write rights
  // (role.access of a clean page); the store faults, KVM sets the guest PDE's D, and the
  // direct page of the dirty page's rights replaces it (validate_direct_spte): a 5th page.
  t = m.touch(next, AccessKind::kWrite);
  expect_truth(m, t, next, 0);
  EXPECT_TRUE(t.translation.writable);
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(stat(m, "shadow.pages_created"), 5u);
  // The guest's PDE (PD at 1M + 8K) has A and D now, set by KVM's software walks.
  const std::uint64_t pde = guest_entry(m, Gpa(1 * MiB + 8 * KiB + pte::entry_offset(kBase, 2)));
  EXPECT_NE(pde & pte::kAccessed, 0u);
  EXPECT_NE(pde & pte::kDirty, 0u);
}

TEST(ShadowMachine, GuestAndHostHugePagesGetAHugeShadowLeaf) {
  ShadowMachineParams p = params();
  p.guest.thp = os::Thp::k2M;
  p.host.thp = os::Thp::k2M;
  ShadowMachine m(p);
  const Gva gva(kBase + 0x12345);
  const TouchResult t = m.touch(gva, AccessKind::kWrite);
  expect_truth(m, t, gva, 0);
  EXPECT_EQ(t.translation.size, PageSize::k2M);
  // Root, PDPT and PD shadows; the leaf is a PDE with PS: no direct page.
  EXPECT_EQ(stat(m, "shadow.pages_created"), 3u);
  EXPECT_EQ(m.touch(gva, AccessKind::kRead).walk.refs, 3u);
}

TEST(ShadowMachine, HostHugePagesOnlyWhereTheVmmsMappingAllowsThem) {
  for (const bool nothp : {false, true}) {
    ShadowMachineParams p = params();
    p.vm.memory = {8 * MiB};
    p.vm.layout = std::string("0x0:4MiB,0x400000:4MiB") + (nothp ? ":nothp" : "");
    p.guest.thp = os::Thp::k2M;
    p.host.thp = os::Thp::k2M;
    ShadowMachine m(p);
    // Two anonymous slots: one mapping of 8 MiB, or (nothp) a mapping per slot, the second
    // without huge pages (hugepage_vma_check: THP enabled=madvise, no MADV_HUGEPAGE).
    const hostmm::VmmMemory& vmm = m.vmm().memory();
    EXPECT_EQ(vmm.fault_size_limit(m.vmm().memslots().find_id(0)->hva), PageSize::k2M);
    EXPECT_EQ(vmm.fault_size_limit(m.vmm().memslots().find_id(1)->hva),
              nothp ? PageSize::k4K : PageSize::k2M);
    // The guest's first 2 MiB page is the top of its RAM, [6M, 8M), in slot 1: a 2 MiB host
    // page and a 2 MiB shadow leaf, or (nothp) a 4 KiB host page and a 4 KiB leaf under a
    // direct shadow page (kvm_mmu_hugepage_adjust: the host mapping's level).
    const Gva gva(kBase + 0x12345);
    const TouchResult t = m.touch(gva, AccessKind::kWrite);
    expect_truth(m, t, gva, 0);
    EXPECT_EQ(t.translation.size, nothp ? PageSize::k4K : PageSize::k2M) << nothp;
  }
}

TEST(ShadowMachine, FiveLevelGuestGetsFiveLevelShadowTables) {
  ShadowMachine m(params(WpPolicy::kUnsync, 5));
  const Gva gva(kBase);
  expect_truth(m, m.touch(gva, AccessKind::kRead), gva, 0);
  // Guest tables PML5, PML4, PDPT, PD, PT: 5 kernel faults, 5 shadow pages.
  EXPECT_EQ(stat(m, "shadow.kernel_faults"), 5u);
  EXPECT_EQ(stat(m, "shadow.pages_created"), 5u);
  EXPECT_EQ(m.touch(gva, AccessKind::kRead).walk.refs, 5u);
}

TEST(ShadowMachine, GuestGigabytePagesGetTheLeafTheHostAllows) {
  struct Case {
    os::Thp host;
    PageSize leaf;
    std::uint64_t pages;  // shadow pages: root, PDPT (indirect), and direct pages below
  };
  // A 1 GiB guest page (its leaf is a PDPTE) over 4 KiB host pages: a direct page at level
  // 2, and one at level 1 per 2 MiB region touched (the offsets below touch two); over
  // 2 MiB host pages: a direct page at level 2 of 2 MiB leaves; over 1 GiB host pages: a
  // 1 GiB leaf in the PDPT shadow. (Slot 2, [4G, 5G) at HVA kRamBase +
  // 3G, is congruent modulo 1 GiB, and the guest's 1 GiB frame is all of it.)
  for (const Case c :
       {Case{os::Thp::kNever, PageSize::k4K, 2 + 1 + 2}, Case{os::Thp::k2M, PageSize::k2M, 3},
        Case{os::Thp::k1G, PageSize::k1G, 2}}) {
    SCOPED_TRACE(page_size_name(c.leaf));
    ShadowMachineParams p = params();
    p.guest.thp = os::Thp::k1G;
    p.host.thp = c.host;
    ShadowMachine m(p);
    for (const std::uint64_t offset : {0x0ull, 0x12'3456ull, 0x3fff'f000ull}) {
      const Gva gva(kBase + offset);
      const TouchResult t = m.touch(gva, AccessKind::kWrite);
      expect_truth(m, t, gva, 0);
      EXPECT_EQ(t.translation.size, c.leaf);
      EXPECT_EQ(m.touch(gva, AccessKind::kRead).walk.refs, 4u - static_cast<unsigned>(c.leaf));
    }
    EXPECT_EQ(m.guest_os().lookup(0, Gva(kBase))->page_base, Gpa(4 * GiB));
    EXPECT_EQ(stat(m, "shadow.pages_created"), c.pages);
    EXPECT_TRUE(m.audit(0).empty());
  }
}

// ---- Guest accessed and dirty flags.

TEST(ShadowMachine, AStoreThroughACleanPagesLeafFaultsAndSetsTheGuestDirtyFlag) {
  ShadowMachine m(params());
  const Gva gva(kBase);
  TouchResult t = m.touch(gva, AccessKind::kRead);
  EXPECT_FALSE(t.translation.writable);  // clean guest page: read-only shadow leaf
  // The guest's PTE (PT at 1M + 12K): KVM's walk set A, not D.
  const Gpa pte_gpa(1 * MiB + 12 * KiB + pte::entry_offset(kBase, 1));
  EXPECT_NE(guest_entry(m, pte_gpa) & pte::kAccessed, 0u);
  EXPECT_EQ(guest_entry(m, pte_gpa) & pte::kDirty, 0u);
  const std::uint64_t faults = stat(m, "vmexits.page_fault");

  // The store: the walk finds the leaf without R/W -> a shadow fault (not the guest's);
  // KVM's walk sets D, the leaf becomes writable (and dirty); the second walk succeeds.
  t = m.touch(gva, AccessKind::kWrite);
  expect_truth(m, t, gva, 0);
  EXPECT_EQ(t.walks, 2u);
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(t.guest_faults, 0u);
  EXPECT_EQ(t.host_faults, 0u);
  EXPECT_TRUE(t.translation.writable);
  EXPECT_TRUE(t.translation.dirty);
  EXPECT_NE(guest_entry(m, pte_gpa) & pte::kDirty, 0u);
  EXPECT_EQ(stat(m, "vmexits.page_fault"), faults + 1);
  EXPECT_EQ(t.cycles, Cycles(kExit + kFaultHandling + (4 + 4) * kRef));
  // A first touch by a store makes the leaf writable at once.
  const Gva other = gva + 4 * KiB;
  EXPECT_TRUE(m.touch(other, AccessKind::kWrite).translation.writable);
}

// ---- Guest PTE writes and write protection.

TEST(ShadowMachine, EmulatedPteWriteExitsOnceAndZapsTheEntry) {
  ShadowMachine m(params(WpPolicy::kEmulate));
  const Gva a(kBase);
  const Gva b = a + 4 * KiB;
  m.touch(a, AccessKind::kRead);
  m.touch(b, AccessKind::kRead);
  // So far: the root entry (page a's fault) and b's PTE were emulated.
  ASSERT_EQ(stat(m, "vmexits.wp_write"), 2u);

  // The guest clears a's PTE in the write-protected PT: one exit, one emulated write, the
  // shadow leaf made from the old PTE zapped at once: every TLB entry must go
  // (kvm_flush_remote_tlbs).
  EventResult r = m.pte_write(a, PteOp::kUnmap, 0);
  EXPECT_EQ(r.exits, 1u);
  EXPECT_EQ(r.cycles, Cycles(kExit + kWpEmulation));
  EXPECT_EQ(r.flush, TlbFlush::all());
  EXPECT_EQ(stat(m, "vmexits.wp_write"), 3u);
  EXPECT_EQ(stat(m, "shadow.wp_writes"), 3u);
  EXPECT_EQ(stat(m, "shadow.zaps"), 0u);  // an entry, not a page
  EXPECT_EQ(m.shadow_translate_debug(a), std::nullopt);
  EXPECT_EQ(m.translate_debug(a), std::nullopt);
  EXPECT_TRUE(m.shadow_translate_debug(b).has_value());
  EXPECT_TRUE(m.audit(0).empty());

  // Nothing mapped there any more: no store, no exit.
  r = m.pte_write(a, PteOp::kUnmap, 0);
  EXPECT_EQ(r.exits, 0u);
  EXPECT_EQ(r.cycles, Cycles());
  EXPECT_EQ(r.flush, TlbFlush::none());

  // The next touch of a is a first touch again: the guest maps a fresh frame (5G - 12K),
  // its PTE store emulated (one more exit).
  const TouchResult t = m.touch(a, AccessKind::kRead);
  expect_truth(m, t, a, 0);
  EXPECT_EQ(t.guest_faults, 1u);
  EXPECT_EQ(t.guest_exits, 1u);
  EXPECT_EQ(m.guest_os().lookup(0, a)->page_base, Gpa(5 * GiB - 12 * KiB));
}

TEST(ShadowMachine, UnsyncPteWriteUnsyncsOnceInvlpgRefreshesCr3WriteSyncs) {
  ShadowMachine m(params(WpPolicy::kUnsync));
  const Gva a(kBase);
  const Gva b = a + 4 * KiB;
  const Gva c = a + 8 * KiB;
  for (const Gva gva : {a, b, c}) {
    m.touch(gva, AccessKind::kRead);
  }
  // b's fault wrote the shadowed PT: its shadow page went unsync then.
  ASSERT_EQ(stat(m, "shadow.unsync"), 1u);

  // A CR3 write (the same CR3): the unsync page below the root is synced (one page,
  // nothing dropped: a, b and c are as the guest maps them) and write-protected again.
  EventResult r = m.cr3_write(0);
  EXPECT_EQ(r.exits, 1u);
  EXPECT_EQ(r.cycles, Cycles(kExit + 1500 + 5000));
  EXPECT_EQ(r.flush, TlbFlush::one_pcid(0));
  EXPECT_EQ(stat(m, "shadow.sync"), 1u);

  // The guest clears a's PTE: the #PF on the write-protected page exits once and the page
  // goes unsync; the store lands, the shadow leaf stays (stale, as a TLB entry may be).
  r = m.pte_write(a, PteOp::kUnmap, 0);
  EXPECT_EQ(r.exits, 1u);
  EXPECT_EQ(r.cycles, Cycles(kExit + kFaultHandling));
  EXPECT_EQ(r.flush, TlbFlush::none());
  EXPECT_EQ(stat(m, "shadow.unsync"), 2u);
  EXPECT_EQ(stat(m, "shadow.wp_writes"), 1u);  // the first touch's root entry only
  EXPECT_TRUE(m.shadow_translate_debug(a).has_value());
  EXPECT_EQ(m.translate_debug(a), std::nullopt);
  EXPECT_TRUE(m.audit(0).empty());  // unsync pages may be stale until a sync point

  // Further stores to the unsync page: no exit.
  r = m.pte_write(b, PteOp::kUnmap, 0);
  EXPECT_EQ(r.exits, 0u);
  EXPECT_EQ(stat(m, "shadow.unsync"), 2u);

  // INVLPG a: its leaf in the unsync page is synced with the guest PTE (kvm_sync_spte),
  // which is gone: dropped, no translation. The dropped leaf needs every TLB entry flushed.
  r = m.invlpg(a, 0);
  EXPECT_EQ(r.exits, 1u);
  EXPECT_EQ(r.cycles, Cycles(kExit + 800));
  EXPECT_EQ(r.flush, TlbFlush::all());
  EXPECT_EQ(stat(m, "vmexits.invlpg"), 1u);
  EXPECT_EQ(stat(m, "shadow.invlpg_syncs"), 1u);
  EXPECT_EQ(m.shadow_translate_debug(a), std::nullopt);
  EXPECT_TRUE(m.shadow_translate_debug(b).has_value());  // not flushed by the guest yet

  // The next CR3 write syncs the page: b's leaf dropped.
  r = m.cr3_write(0);
  EXPECT_EQ(r.flush, TlbFlush::all());
  EXPECT_EQ(stat(m, "shadow.sync"), 2u);
  EXPECT_EQ(m.shadow_translate_debug(b), std::nullopt);
  EXPECT_TRUE(m.shadow_translate_debug(c).has_value());
  EXPECT_TRUE(m.audit(0).empty());
  // Write-protected again: the next store exits and unsyncs once more.
  EXPECT_EQ(m.pte_write(c, PteOp::kUnmap, 0).exits, 1u);
  EXPECT_EQ(stat(m, "shadow.unsync"), 3u);
}

TEST(ShadowMachine, Cr3WriteSyncsOnlyTheUnsyncPagesBelowTheNewRoot) {
  ShadowMachine m(params(WpPolicy::kUnsync));
  const Gva a(kBase);
  // Two address spaces, each with a PT whose shadow went unsync (its second page's PTE).
  m.cr3_write(1);
  m.touch(a, AccessKind::kRead, 1);
  m.touch(a + 4 * KiB, AccessKind::kRead, 1);
  m.cr3_write(2);  // a new root: nothing below it to sync
  m.touch(a, AccessKind::kRead, 2);
  m.touch(a + 4 * KiB, AccessKind::kRead, 2);
  ASSERT_EQ(stat(m, "shadow.unsync"), 2u);
  ASSERT_EQ(stat(m, "shadow.sync"), 0u);
  m.cr3_write(1);  // pcid 1's PT only
  EXPECT_EQ(stat(m, "shadow.sync"), 1u);
  m.cr3_write(1);  // nothing unsync below it any more
  EXPECT_EQ(stat(m, "shadow.sync"), 1u);
  m.cr3_write(2, /*noflush=*/true);  // CR3 bit 63: no sync
  EXPECT_EQ(stat(m, "shadow.sync"), 1u);
  m.cr3_write(2);
  EXPECT_EQ(stat(m, "shadow.sync"), 2u);
}

struct SyncCase {
  WpPolicy policy;
  bool by_invlpg;  // else a CR3 write
};

class UnmapThenSyncPoint : public ::testing::TestWithParam<SyncCase> {};

TEST_P(UnmapThenSyncPoint, TheGvaNoLongerTranslates) {
  const SyncCase c = GetParam();
  ShadowMachineParams p = params(c.policy);
  p.shadow.prefetch = true;
  ShadowMachine m(p);
  const Gva a(kBase);
  const Gva b = a + 4 * KiB;
  const TouchResult before = m.touch(a, AccessKind::kWrite);
  m.touch(b, AccessKind::kWrite);
  m.pte_write(a, PteOp::kUnmap, 0);
  const EventResult r = c.by_invlpg ? m.invlpg(a, 0) : m.cr3_write(0);
  // After the sync point no shadow entry maps a, and every other agrees with the guest.
  EXPECT_EQ(m.shadow_translate_debug(a), std::nullopt);
  EXPECT_EQ(m.translate_debug(a), std::nullopt);
  EXPECT_TRUE(m.audit(0).empty());
  EXPECT_NE(r.flush, TlbFlush::none());
  // The next access is a first touch: the guest maps another frame.
  const TouchResult t = m.touch(a, AccessKind::kRead);
  expect_truth(m, t, a, 0);
  EXPECT_EQ(t.guest_faults, 1u);
  EXPECT_NE(t.translation.page_base, before.translation.page_base);
}

INSTANTIATE_TEST_SUITE_P(
    PoliciesAndSyncPoints, UnmapThenSyncPoint,
    ::testing::Values(SyncCase{WpPolicy::kEmulate, true}, SyncCase{WpPolicy::kEmulate, false},
                      SyncCase{WpPolicy::kUnsync, true}, SyncCase{WpPolicy::kUnsync, false}),
    [](const auto& i) { return name(i.param.policy) + (i.param.by_invlpg ? "_invlpg" : "_cr3"); });

TEST(ShadowMachine, RemapThenInvlpgTranslatesToTheNewFrame) {
  for (const WpPolicy policy : {WpPolicy::kEmulate, WpPolicy::kUnsync}) {
    SCOPED_TRACE(name(policy));
    ShadowMachine m(params(policy));
    const Gva a(kBase);
    const TouchResult before = m.touch(a, AccessKind::kRead);
    // One PTE write: emulated (emulate), or the PT goes unsync (unsync: its first store).
    const EventResult w = m.pte_write(a, PteOp::kRemap, 0);
    EXPECT_EQ(w.exits, 1u);
    EXPECT_EQ(m.guest_os().lookup(0, a)->page_base, Gpa(5 * GiB - 8 * KiB));
    m.invlpg(a, 0);
    EXPECT_EQ(m.shadow_translate_debug(a), std::nullopt);  // the new PTE has A = 0
    // The next access: one shadow fault (the guest maps the page), the new frame's host
    // page faulted in.
    const TouchResult t = m.touch(a, AccessKind::kRead);
    expect_truth(m, t, a, 0);
    EXPECT_EQ(t.shadow_faults, 1u);
    EXPECT_EQ(t.guest_faults, 0u);
    EXPECT_EQ(t.host_faults, 1u);
    EXPECT_NE(t.translation.page_base, before.translation.page_base);
  }
}

// ---- CR3 writes: the caching MMU against dropping everything.

class Cr3Switching : public ::testing::TestWithParam<bool> {};

TEST_P(Cr3Switching, CachedRootsAreCreatedOnceElseEveryTime) {
  const bool cache = GetParam();
  constexpr std::uint64_t kSwitches = 10;
  ShadowMachineParams p = params();
  p.shadow.cache_roots = cache;
  ShadowMachine m(p);
  const Gva a(kBase);
  m.cr3_write(1);
  expect_truth(m, m.touch(a, AccessKind::kRead, 1), a, 1);
  m.cr3_write(2);
  expect_truth(m, m.touch(a, AccessKind::kRead, 2), a, 2);
  for (std::uint64_t i = 0; i < kSwitches; ++i) {
    const auto pcid = static_cast<std::uint16_t>(1 + i % 2);
    const EventResult r = m.cr3_write(pcid);
    EXPECT_EQ(r.exits, 1u);
    // Cached: the PCID's entries (MOV to CR3); dropped: everything.
    EXPECT_EQ(r.flush, cache ? TlbFlush::one_pcid(pcid) : TlbFlush::all());
    const TouchResult t = m.touch(a, AccessKind::kRead, pcid);
    expect_truth(m, t, a, pcid);
    // Cached: the shadow is there, one walk. Dropped: one shadow fault rebuilds the root's
    // path (the guest's tables still map the page).
    EXPECT_EQ(t.shadow_faults, cache ? 0u : 1u);
    EXPECT_FALSE(t.cr3_switch);
  }
  EXPECT_EQ(stat(m, "vmexits.cr3_write"), kSwitches + 2);
  if (cache) {
    // Two roots, each created once; 4 shadow pages per address space, none zapped.
    EXPECT_EQ(stat(m, "shadow.roots_created"), 2u);
    EXPECT_EQ(stat(m, "shadow.pages_created"), 8u);
    EXPECT_EQ(stat(m, "shadow.zaps"), 0u);
    EXPECT_EQ(stat(m, "shadow.page_faults"), 4u);  // the two first touches only
  } else {
    // Every CR3 write builds the root; each but the first zaps the 4 pages of the address
    // space before; each touch after a switch rebuilds PDPT, PD, PT shadows.
    EXPECT_EQ(stat(m, "shadow.roots_created"), kSwitches + 2);
    EXPECT_EQ(stat(m, "shadow.pages_created"), 4 * (kSwitches + 2));
    EXPECT_EQ(stat(m, "shadow.zaps"), 4 * (kSwitches + 1));
    EXPECT_EQ(stat(m, "shadow.page_faults"), 4 + kSwitches);
  }
}

INSTANTIATE_TEST_SUITE_P(CacheRoots, Cr3Switching, ::testing::Bool(),
                         [](const auto& i) { return i.param ? "cached" : "dropped"; });

class NewRootExit : public ::testing::TestWithParam<bool> {};

TEST_P(NewRootExit, ACr3WriteWithNoCachedRootCostsTheEntryThatBuildsIt) {
  const bool on = GetParam();
  ShadowMachineParams p = params();
  p.shadow.new_root_exit = on;
  ShadowMachine m(p);
  m.touch(Gva(kBase), AccessKind::kRead, 0);  // the first root, at the first entry: no exit
  // Each CR3 write: its own exit, and with new_root_exit one more when kvm_mmu_new_pgd
  // finds neither the current root nor one of the three prev_roots (fast_pgd_switch;
  // cached_root_find_and_keep_current swaps the current root with prev_roots[0], [1], ...
  // until the wanted one comes up, so a hit at i moves prev_roots[0..i-1] down one and the
  // old current root becomes prev_roots[0]; a miss drops prev_roots[2]). Current and
  // prev_roots after each write, and whether it missed:
  //   1: 1 [0]        miss      2: 2 [1 0]     miss      3: 3 [2 1 0]   miss
  //   1: 1 [3 2 0]    hit at 1  4: 4 [1 3 2]   miss      5: 5 [4 1 3]   miss (drops 2)
  //   2: 2 [5 4 1]    miss (its shadow root is still hashed: found, not created)
  //   4: 4 [2 5 1]    hit at 1
  struct Step {
    std::uint16_t pcid;
    bool miss;
  };
  const Step steps[] = {{1, true}, {2, true}, {3, true}, {1, false},
                        {4, true}, {5, true}, {2, true}, {4, false}};
  std::uint64_t misses = 0;
  for (const Step& s : steps) {
    // (A new pcid's first CR3 write also has the guest kernel build its tables: their
    // exits are the kernel's, vmexits.page_fault.)
    const std::uint64_t cr3_exits = stat(m, "vmexits.cr3_write");
    m.cr3_write(s.pcid);
    misses += s.miss ? 1 : 0;
    EXPECT_EQ(stat(m, "vmexits.cr3_write"), cr3_exits + 1) << s.pcid;
    EXPECT_EQ(stat(m, "vmexits.root_load"), on ? misses : 0u) << s.pcid;
    expect_truth(m, m.touch(Gva(kBase), AccessKind::kRead, s.pcid), Gva(kBase), s.pcid);
  }
  EXPECT_EQ(misses, 6u);
  EXPECT_EQ(stat(m, "vmexits.cr3_write"), 8u);
  EXPECT_EQ(stat(m, "shadow.roots_created"), 6u);  // pcids 0-5, each once
  EXPECT_EQ(stat(m, "vmexits.total"), stat(m, "vmexits.page_fault") + stat(m, "vmexits.wp_write") +
                                          stat(m, "vmexits.cr3_write") +
                                          stat(m, "vmexits.root_load"));
}

INSTANTIATE_TEST_SUITE_P(Host, NewRootExit, ::testing::Bool(),
                         [](const auto& i) { return i.param ? "pvm" : "vmx_svm"; });

TEST(ShadowMachine, ATouchUnderAnotherPcidIsAnImplicitCr3Write) {
  ShadowMachine m(params());
  const Gva a(kBase);
  TouchResult t = m.touch(a, AccessKind::kRead, 0);
  EXPECT_FALSE(t.cr3_switch);  // the first root: loaded at the first VM entry, no exit
  EXPECT_EQ(stat(m, "vmexits.cr3_write"), 0u);
  t = m.touch(a, AccessKind::kRead, 1);
  expect_truth(m, t, a, 1);
  EXPECT_TRUE(t.cr3_switch);
  EXPECT_EQ(t.guest_faults, 1u);  // pcid 1 is a new address space
  EXPECT_EQ(stat(m, "vmexits.cr3_write"), 1u);
  EXPECT_EQ(m.current_pcid(), std::optional<std::uint16_t>(1));
  // Back to pcid 0: its cached root, one walk after the switch.
  t = m.touch(a, AccessKind::kRead, 0);
  EXPECT_TRUE(t.cr3_switch);
  EXPECT_EQ(t.walks, 1u);
  EXPECT_EQ(t.flush, TlbFlush::one_pcid(0));
  EXPECT_EQ(stat(m, "vmexits.cr3_write"), 2u);
  // Each address space has its own guest frame for a.
  EXPECT_NE(m.translate_debug(a, 0)->page_base, m.translate_debug(a, 1)->page_base);
}

// ---- Address-space teardown.

class ExitTeardown : public ::testing::TestWithParam<WpPolicy> {};

TEST_P(ExitTeardown, ClearsEveryEntryThroughWriteProtectionAndZapsTheShadow) {
  const WpPolicy policy = GetParam();
  ShadowMachine m(params(policy));
  // One page in each of 4 PTs under one PD: guest tables root, PDPT, PD, PT0..PT3; the
  // same 7 shadow pages. No PT has had a store since its shadow page was made (each PT's
  // only PTE was written before), so none is unsync.
  for (std::uint64_t i = 0; i < 4; ++i) {
    m.touch(Gva(kBase + i * 2 * MiB), AccessKind::kWrite);
  }
  ASSERT_EQ(stat(m, "shadow.pages"), 7u);
  ASSERT_EQ(stat(m, "shadow.unsync"), 0u);
  const std::uint64_t wp_exits = stat(m, "vmexits.wp_write");
  const std::uint64_t emulated = stat(m, "shadow.wp_writes");

  const EventResult r = m.exit_address_space(0);
  // Linux's order (PageTableOs::destroy_address_space), each store to a shadowed table:
  //  pass 1, the 4 leaves, one per PT: 4 exits (emulate: emulated; unsync: each PT goes
  //    unsync);
  //  pass 2, PD entries 0, 1, 2: 3 emulated exits (the PD is an upper level); the third is
  //    the PD shadow's 3rd write with no fault through it: write flooding zaps it (unsync:
  //    with PT2 and PT3, its unsync children); PD entry 3: the PD is no longer shadowed, no
  //    exit; then the PDPT entry and the root entry: 2 emulated exits.
  EXPECT_EQ(r.exits, 4u + 3u + 2u);
  EXPECT_EQ(stat(m, "vmexits.wp_write"), wp_exits + 9);
  EXPECT_EQ(stat(m, "shadow.wp_writes"), emulated + (policy == WpPolicy::kEmulate ? 9u : 5u));
  EXPECT_EQ(stat(m, "shadow.unsync"), policy == WpPolicy::kEmulate ? 0u : 4u);
  EXPECT_EQ(stat(m, "shadow.flooded"), 1u);
  // Then the shadow pages of the torn-down tables go: root, PDPT, PT0, PT1 (and PT2, PT3
  // under emulate). 7 zaps either way.
  EXPECT_EQ(stat(m, "shadow.zaps"), 7u);
  EXPECT_EQ(stat(m, "shadow.pages"), 0u);
  EXPECT_EQ(r.flush, TlbFlush::all());
  EXPECT_EQ(m.current_pcid(), std::nullopt);
  EXPECT_EQ(m.translate_debug(Gva(kBase), 0), std::nullopt);
  EXPECT_EQ(m.shadow_translate_debug(Gva(kBase), 0), std::nullopt);

  // pcid 0 again is a new address space: a new guest root (the next table frame, 1M +
  // 28K), a new shadow root, and an implicit CR3 write (the guest switched to it).
  const TouchResult t = m.touch(Gva(kBase), AccessKind::kRead, 0);
  expect_truth(m, t, Gva(kBase), 0);
  EXPECT_TRUE(t.cr3_switch);
  EXPECT_EQ(t.guest_faults, 1u);
  EXPECT_EQ(m.guest_os().address_space_root(0), Gpa(1 * MiB + 7 * 4 * KiB));
  EXPECT_EQ(stat(m, "shadow.roots_created"), 2u);
}

INSTANTIATE_TEST_SUITE_P(Policies, ExitTeardown,
                         ::testing::Values(WpPolicy::kEmulate, WpPolicy::kUnsync),
                         [](const auto& i) { return name(i.param); });

// ---- Memslots.

TEST(ShadowMachine, DeletedSlotZapsItsLeavesAndTheAccessIsAnMmioExit) {
  ShadowMachineParams p = params();
  p.shadow.memslot_zap = MemslotZap::kSlot;  // KVM without KVM_X86_QUIRK_SLOT_ZAP_ALL
  ShadowMachine m(p);
  const Gva a(kBase);
  ASSERT_EQ(m.touch(a, AccessKind::kRead).outcome, TouchResult::Outcome::kOk);
  // The data page (5G - 4K) is in slot 2; the guest's tables in slot 1 stay.
  const MemslotChange c = m.remove_memslot(host::kRamAbove4gSlot);
  EXPECT_EQ(c.zapped, (host::GpaRange{Gpa(4 * GiB), Gpa(5 * GiB)}));
  EXPECT_EQ(c.flush, TlbFlush::all());
  EXPECT_EQ(stat(m, "shadow.zaps"), 0u);  // the leaf, no shadow page
  EXPECT_EQ(m.shadow_translate_debug(a), std::nullopt);
  EXPECT_TRUE(m.audit(0).empty());
  // The walk finds no leaf; KVM's walk gives GPA 5G - 4K, in no slot: emulated.
  const TouchResult t = m.touch(a, AccessKind::kRead);
  EXPECT_EQ(t.outcome, TouchResult::Outcome::kMmio);
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(stat(m, "vmexits.mmio"), 1u);
  EXPECT_EQ(t.cycles, Cycles(4 * kRef + kExit + kFaultHandling + 20000));
}

TEST(ShadowMachine, DeletedSlotZapsEveryShadowPageByDefault) {
  ShadowMachine m(params());  // shadow.memslot_zap = all: kvm_mmu_zap_all_fast
  const Gva a(kBase);
  ASSERT_EQ(m.touch(a, AccessKind::kRead).outcome, TouchResult::Outcome::kOk);
  // One 4 KiB page on 4-level guest paging: a shadow page per level, root included.
  ASSERT_EQ(m.mmu().live_pages(), 4u);
  const MemslotChange c = m.remove_memslot(host::kRamAbove4gSlot);
  EXPECT_EQ(c.flush, TlbFlush::all());
  EXPECT_EQ(stat(m, "shadow.zaps"), 4u);  // every shadow page, whatever slot it shadows
  EXPECT_EQ(m.mmu().live_pages(), 0u);
}

// kvm_mmu_zap_all_fast zaps every shadow page but only invalidates the roots a vCPU holds
// (root_count: mmu->root and each valid prev_root); kvm_mmu_free_obsolete_roots frees them
// at the vCPU's next entry, each a second kvm_mmu_prepare_zap_page.
TEST(ShadowMachine, ZapAllFreesTheCurrentAndCachedRootsAgainAtTheNextEntry) {
  ShadowMachine m(params());
  const Gva a(kBase);
  m.touch(a, AccessKind::kRead, 0);  // address space 0: its root and 3 tables
  m.touch(a, AccessKind::kRead, 1);  // address space 1 (a CR3 switch): 4 more; root 0 cached
  ASSERT_EQ(m.mmu().live_pages(), 8u);
  const host::Memslot old = *m.vmm().memslots().find_id(host::kRamAbove4gSlot);
  m.remove_memslot(host::kRamAbove4gSlot);
  EXPECT_EQ(stat(m, "shadow.zaps"), 8u);  // every page
  m.add_memslot(host::kRamAbove4gSlot, old.base, old.bytes, old.readonly, old.hva);
  m.touch(a, AccessKind::kRead, 1);
  EXPECT_EQ(stat(m, "shadow.zaps"), 8u + 2u);  // root 1 (current) and root 0 (prev_roots)
  // Root 0 is no longer cached: switching back builds it again.
  const std::uint64_t created = stat(m, "shadow.pages_created");
  m.touch(a, AccessKind::kRead, 0);
  EXPECT_GT(stat(m, "shadow.pages_created"), created);
}

TEST(ShadowMachine, ASlotDeletedUnderTheGuestsTablesStopsWithTheReason) {
  ShadowMachine m(params());
  m.touch(Gva(kBase), AccessKind::kRead);
  // The guest's tables (from 1M) are in slot 1. Without it, KVM's walk of the guest table
  // for a new page reads the root entry at a GPA in no slot: a real guest would crash.
  m.remove_memslot(host::kRamBelow4gSlot);
  try {
    m.touch(Gva(kBase + 64 * GiB), AccessKind::kRead);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no memslot"), std::string::npos) << e.what();
  }
}

TEST(ShadowMachine, MovedSlotRefaultsWithoutHostFaultsWhenItMovesBack) {
  ShadowMachine m(params());
  const Gva a(kBase);
  const Hpa hpa = m.touch(a, AccessKind::kRead).translation.page_base;
  EXPECT_EQ(m.move_memslot(host::kRamAbove4gSlot, Gpa(8 * GiB)).zapped,
            (host::GpaRange{Gpa(4 * GiB), Gpa(5 * GiB)}));
  EXPECT_EQ(m.touch(a, AccessKind::kRead).outcome, TouchResult::Outcome::kMmio);
  m.move_memslot(host::kRamAbove4gSlot, Gpa(4 * GiB));
  // The VMM kept its pages: a shadow fault, no host fault, the same host frame.
  const std::uint64_t host_faults = stat(m, "host.page_faults");
  const TouchResult t = m.touch(a, AccessKind::kRead);
  expect_truth(m, t, a, 0);
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(t.host_faults, 0u);
  EXPECT_EQ(stat(m, "host.page_faults"), host_faults);
  EXPECT_EQ(t.translation.page_base, hpa);
}

TEST(ShadowMachine, AReadOnlySlotMapsReadsAndTurnsStoresIntoMmioExits) {
  ShadowMachine m(params());
  const Gva a(kBase);
  m.touch(a, AccessKind::kRead);
  // Slot 2's GPAs, now a read-only slot over fresh VMM memory (a ROM).
  m.remove_memslot(host::kRamAbove4gSlot);
  m.add_memslot(7, Gpa(4 * GiB), 1 * GiB, /*readonly=*/true);
  TouchResult t = m.touch(a, AccessKind::kRead);
  expect_truth(m, t, a, 0);
  EXPECT_EQ(t.host_faults, 1u);
  EXPECT_FALSE(t.translation.writable);
  EXPECT_FALSE(m.translate_debug(a)->writable);
  t = m.touch(a, AccessKind::kWrite);
  EXPECT_EQ(t.outcome, TouchResult::Outcome::kMmio);
  EXPECT_EQ(stat(m, "vmexits.mmio"), 1u);
  // The guest's PTE got D from KVM's walk nonetheless: a read-only leaf stays.
  EXPECT_FALSE(m.shadow_translate_debug(a)->writable);
}

// ---- PTE prefetch.

TEST(ShadowMachine, PrefetchFillsTheGroupOfEightFromAccessedGuestEntries) {
  for (const bool prefetch : {true, false}) {
    SCOPED_TRACE(prefetch);
    ShadowMachineParams p = params();
    p.shadow.prefetch = prefetch;
    p.shadow.cache_roots = false;  // a CR3 write drops the shadow: the refaults below
    ShadowMachine m(p);
    // Pages 0..7 of one PT: an aligned group. Their first touches prefetch nothing (the
    // guest maps the group's later pages only when they are touched).
    for (std::uint64_t i = 0; i < 8; ++i) {
      m.touch(Gva(kBase + i * 4 * KiB), AccessKind::kRead);
    }
    EXPECT_EQ(stat(m, "shadow.prefetches"), 0u);
    m.cr3_write(0);
    const std::uint64_t faults = stat(m, "shadow.page_faults");
    const std::uint64_t ad_updates = stat(m, "walker.ad_updates");
    for (std::uint64_t i = 0; i < 8; ++i) {
      const Gva gva(kBase + i * 4 * KiB);
      expect_truth(m, m.touch(gva, AccessKind::kRead), gva, 0);
    }
    // With prefetch: page 0's fault also makes 1..7 (present, accessed guest PTEs, resident
    // host pages): 1 fault; their leaves lack A (speculative), so each first walk sets it.
    // Without: 8 faults.
    EXPECT_EQ(stat(m, "shadow.page_faults") - faults, prefetch ? 1u : 8u);
    EXPECT_EQ(stat(m, "shadow.prefetches"), prefetch ? 7u : 0u);
    EXPECT_EQ(stat(m, "walker.ad_updates") - ad_updates, prefetch ? 7u : 0u);
  }
}

TEST(ShadowMachine, DirectPrefetchTakesTheRunThatReachesTheGroupsEnd) {
  // A 2 MiB guest page over 4 KiB host pages: a direct shadow page of 4 KiB leaves. Its
  // pages 0..7 first touched in order: each fault's group run (k+1..7) reaches the group's
  // end over host pages not faulted in yet, so nothing is prefetched. After the shadow is
  // dropped (a CR3 write without cached roots), page 0's fault finds 1..7 resident:
  // __direct_pte_prefetch maps that trailing run (its `if (start)` after the loop), and
  // pages 1..7 then fault no more.
  ShadowMachineParams p = params();
  p.guest.thp = os::Thp::k2M;
  p.shadow.prefetch = true;
  p.shadow.cache_roots = false;
  ShadowMachine m(p);
  for (std::uint64_t i = 0; i < 8; ++i) {
    m.touch(Gva(kBase + i * 4 * KiB), AccessKind::kRead);
  }
  EXPECT_EQ(stat(m, "shadow.prefetches"), 0u);
  m.cr3_write(0);
  const std::uint64_t faults = stat(m, "shadow.page_faults");
  for (std::uint64_t i = 0; i < 8; ++i) {
    const Gva gva(kBase + i * 4 * KiB);
    expect_truth(m, m.touch(gva, AccessKind::kRead), gva, 0);
  }
  EXPECT_EQ(stat(m, "shadow.page_faults") - faults, 1u);
  EXPECT_EQ(stat(m, "shadow.prefetches"), 7u);
}

// ---- Recycling: shadow.max_pages.

TEST(ShadowMachine, TheOldestShadowPagesAreZappedBeyondMaxPages) {
  ShadowMachineParams p = params();
  p.shadow.max_pages = 40;
  ShadowMachine m(p);
  // Touch j (1-based) maps kBase + (j - 1) * 2M: a PT of its own under one PD, so after it
  // 3 + j shadow pages live (root, PDPT, PD, PT1..PTj) until recycling. A fixing fault
  // first recycles when fewer than 5 pages are left (KVM_MIN_FREE_MMU_PAGES): live > 35,
  // first at touch 34 (36 live), then zaps the oldest until 25 are free (KVM_REFILL_PAGES),
  // live <= 15: root skipped (in use), PDPT, PD, PT1..PT19: 21 recycled. The fault then
  // rebuilds PDPT, PD and makes PT34: 18 live, plus one per touch: 36 again at touch 53,
  // when the oldest are PT20..PT33 (orphans since the PD went), the new PDPT and PD,
  // PT34..PT38: 21 more. The next round would be at touch 72.
  for (std::uint64_t j = 1; j <= 60; ++j) {
    const Gva gva(kBase + (j - 1) * 2 * MiB);
    expect_truth(m, m.touch(gva, AccessKind::kRead), gva, 0);
    EXPECT_LE(stat(m, "shadow.pages"), 40u);
    if (j == 33) {
      EXPECT_EQ(stat(m, "shadow.recycled"), 0u);
      EXPECT_EQ(stat(m, "shadow.pages"), 36u);
    }
    if (j == 34) {
      EXPECT_EQ(stat(m, "shadow.recycled"), 21u);
      EXPECT_EQ(stat(m, "shadow.pages"), 18u);
    }
  }
  EXPECT_EQ(stat(m, "shadow.recycled"), 42u);
  EXPECT_EQ(stat(m, "shadow.zaps"), 42u);
  EXPECT_EQ(stat(m, "shadow.pages"), 18u + (60 - 53));
  // Root, PDPT and PD three times, 60 PTs.
  EXPECT_EQ(stat(m, "shadow.pages_created"), 1u + 3 * 2 + 60);
  EXPECT_TRUE(m.audit(0).empty());
  // A recycled path refaults: touch 1's page (its PT shadow went in round one).
  const TouchResult t = m.touch(Gva(kBase), AccessKind::kRead);
  expect_truth(m, t, Gva(kBase), 0);
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(t.guest_faults, 0u);
}

// shadow.recycle_unsync_children: Linux's source zaps the unsync page tables below a recycled
// page with it (__kvm_mmu_prepare_zap_page -> mmu_zap_unsync_children), each counted toward
// the batch; kvm_pvm was measured to zap the page alone.
TEST(ShadowMachine, RecyclingZapsTheUnsyncChildrenWithTheirParentOrNot) {
  for (const bool cascade : {true, false}) {
    SCOPED_TRACE(cascade);
    ShadowMachineParams p = params(WpPolicy::kUnsync);
    p.shadow.max_pages = 40;
    p.shadow.recycle_unsync_children = cascade;
    ShadowMachine m(p);
    // As above: touch j maps kBase + (j - 1) * 2M, a PT of its own; 35 live after touch 32.
    for (std::uint64_t j = 1; j <= 32; ++j) {
      m.touch(Gva(kBase + (j - 1) * 2 * MiB), AccessKind::kRead);
    }
    // A second page under PT30 (5 pages free: no recycling): the guest kernel's PTE store to
    // the shadowed PT30 unsyncs it. Touch 33 makes 36 live.
    m.touch(Gva(kBase + 29 * 2 * MiB + 4 * KiB), AccessKind::kRead);
    ASSERT_EQ(m.mmu().unsync_pages(), 1u);
    m.touch(Gva(kBase + 32 * 2 * MiB), AccessKind::kRead);
    ASSERT_EQ(stat(m, "shadow.pages"), 36u);
    ASSERT_EQ(stat(m, "shadow.recycled"), 0u);
    // Touch 34 recycles 21 (25 - 4 free) from the oldest, the root skipped. With the
    // cascade: PDPT and, below it, the unsync PT30 (2), PD (3), PT1..PT18 (21); PT19 stays.
    // Without: PDPT, PD, PT1..PT19; PT30 stays, unsync, an orphan.
    m.touch(Gva(kBase + 33 * 2 * MiB), AccessKind::kRead);
    EXPECT_EQ(stat(m, "shadow.recycled"), 21u);
    EXPECT_EQ(stat(m, "shadow.unsync_zapped"), cascade ? 1u : 0u);
    EXPECT_EQ(m.mmu().unsync_pages(), cascade ? 0u : 1u);
    // Touch 19 again: its PT is found in the hash when it survived, made anew when not.
    const std::uint64_t created = stat(m, "shadow.pages_created");
    const Gva again(kBase + 18 * 2 * MiB);
    expect_truth(m, m.touch(again, AccessKind::kRead), again, 0);
    EXPECT_EQ(stat(m, "shadow.pages_created") - created, cascade ? 0u : 1u);
  }
}

TEST(ShadowMachine, RecyclingSkipsTheRootsKvmHoldsInPrevRoots) {
  ShadowMachineParams p = params();
  p.shadow.max_pages = 40;
  ShadowMachine m(p);
  // pcid 0: one page (root0, PDPT0, PD0, PT0), then a switch to pcid 1 (root1): 5 live.
  m.touch(Gva(kBase), AccessKind::kRead, 0);
  m.cr3_write(1);
  ASSERT_EQ(stat(m, "shadow.pages"), 5u);
  // Touch j under pcid 1 maps kBase + (j - 1) * 2M: j = 1 adds PDPT1, PD1, PT1, each later
  // one its PT: 7 + j live after it. Its fixing fault recycles first when fewer than 5
  // pages are free (make_mmu_pages_available): 6 + j > 35 before touch 30, 4 free, so
  // kvm_mmu_zap_oldest_mmu_pages(25 - 4 = 21) from the oldest, skipping root0 (root_count
  // held by prev_roots) and root1 (current): PDPT0, PD0, PT0, PDPT1, PD1, PT1..PT16. 15
  // live; the fault rebuilds PDPT1, PD1 and makes PT30: 18.
  for (std::uint64_t j = 1; j <= 30; ++j) {
    const Gva gva(kBase + (j - 1) * 2 * MiB);
    expect_truth(m, m.touch(gva, AccessKind::kRead, 1), gva, 1);
    if (j == 29) {
      EXPECT_EQ(stat(m, "shadow.recycled"), 0u);
    }
  }
  EXPECT_EQ(stat(m, "shadow.recycled"), 21u);
  EXPECT_EQ(stat(m, "shadow.pages"), 18u);
  // Back to pcid 0: its root is still cached (fast_pgd_switch), not created again; the
  // touch refaults once, rebuilding PDPT0, PD0, PT0 under it.
  m.cr3_write(0);
  EXPECT_EQ(stat(m, "shadow.roots_created"), 2u);
  const std::uint64_t created = stat(m, "shadow.pages_created");
  const TouchResult t = m.touch(Gva(kBase), AccessKind::kRead, 0);
  expect_truth(m, t, Gva(kBase), 0);
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(t.guest_faults, 0u);
  EXPECT_EQ(stat(m, "shadow.pages_created"), created + 3);
}

TEST(ShadowMachine, DefaultMaxPagesIsKvmsShareOfGuestMemory) {
  ShadowMachine m(params());
  // The memslots of a 4 GiB pc guest: [0, 640K), [1M, 3G), [4G, 5G), 2^20 - 96 pages (the
  // VGA/ROM hole is in none); 20 per 1000 of them (KVM_PERMILLE_MMU_PAGES): 20969.
  EXPECT_EQ(m.mmu().max_pages(), (1048576u - 96u) * 20 / 1000);
  EXPECT_EQ(m.mmu().max_pages(), 20969u);
  // A tiny guest gets KVM_MIN_ALLOC_MMU_PAGES: 2 MiB, 512 - 96 pages -> 8, so 64.
  ShadowMachineParams p = params();
  p.vm.memory = {2 * MiB};
  EXPECT_EQ(ShadowMachine(p).mmu().max_pages(), 64u);
}

// ---- Aging.

TEST(ShadowMachine, AgingClearsAccessedFlagsThenDropsUnusedLeaves) {
  ShadowMachine m(params());
  std::vector<Gva> gvas;
  for (std::uint64_t i = 0; i < 4; ++i) {
    gvas.push_back(Gva(kBase + i * 4 * KiB));
    m.touch(gvas.back(), AccessKind::kRead);
  }
  // Sweep 1: the 4 leaves were installed with A: cleared, no TLB flush needed.
  EventResult r = m.age();
  EXPECT_EQ(stat(m, "shadow.aged"), 4u);
  EXPECT_EQ(stat(m, "shadow.aging_drops"), 0u);
  EXPECT_EQ(r.flush, TlbFlush::none());
  EXPECT_EQ(r.exits, 0u);
  // A walk through page 0's leaf sets A again (the hardware's update).
  const std::uint64_t ad = stat(m, "walker.ad_updates");
  EXPECT_EQ(m.touch(gvas[0], AccessKind::kRead).shadow_faults, 0u);
  EXPECT_EQ(stat(m, "walker.ad_updates"), ad + 1);
  // Sweep 2: page 0 used (A cleared again), pages 1..3 unused since sweep 1: dropped.
  r = m.age();
  EXPECT_EQ(stat(m, "shadow.aged"), 5u);
  EXPECT_EQ(stat(m, "shadow.aging_drops"), 3u);
  EXPECT_EQ(r.flush, TlbFlush::all());
  EXPECT_TRUE(m.shadow_translate_debug(gvas[0]).has_value());
  EXPECT_EQ(m.shadow_translate_debug(gvas[1]), std::nullopt);
  EXPECT_TRUE(m.translate_debug(gvas[1]).has_value());  // the guest still maps it
  // Its next access refaults in the shadow only.
  const TouchResult t = m.touch(gvas[1], AccessKind::kRead);
  expect_truth(m, t, gvas[1], 0);
  EXPECT_EQ(t.shadow_faults, 1u);
  EXPECT_EQ(t.guest_faults, 0u);
}

TEST(ShadowMachine, AgingSweepsEveryIntervalTouches) {
  ShadowMachineParams p = params();
  p.shadow.aging = true;
  p.shadow.aging_interval = 4;
  ShadowMachine m(p);
  const Gva a0(kBase);
  const Gva a1(kBase + 4 * KiB);
  // Touch 1: a0 installed (A set). Touches 2, 3: a1 installed, then a hit.
  m.touch(a0, AccessKind::kRead);
  m.touch(a1, AccessKind::kRead);
  m.touch(a1, AccessKind::kRead);
  EXPECT_EQ(stat(m, "shadow.aged"), 0u);
  // Touch 4 starts with a sweep: both leaves have A: 2 aged; its walk sets a1's A again.
  m.touch(a1, AccessKind::kRead);
  EXPECT_EQ(stat(m, "shadow.aged"), 2u);
  // Touches 5..7 hit a1; touch 8 sweeps: a1 used (aged), a0 not since touch 4: dropped.
  for (int i = 5; i <= 8; ++i) {
    m.touch(a1, AccessKind::kRead);
  }
  EXPECT_EQ(stat(m, "shadow.aged"), 3u);
  EXPECT_EQ(stat(m, "shadow.aging_drops"), 1u);
  EXPECT_EQ(m.shadow_translate_debug(a0), std::nullopt);
}

// ---- The observer (--trace-page).

class Recorder : public TouchObserver {
 public:
  void shadow_page_fault(Gva, const ShadowMmu::Fault& f) override { outcomes.push_back(f.outcome); }
  void guest_page_fault(Gva, unsigned level, unsigned exits, Cycles) override {
    levels.push_back(level);
    guest_exits.push_back(exits);
  }
  std::vector<ShadowMmu::Fault::Outcome> outcomes;
  std::vector<unsigned> levels;
  std::vector<unsigned> guest_exits;
};

TEST(ShadowMachine, TheObserverSeesEachFault) {
  ShadowMachine m(params(WpPolicy::kEmulate));
  Recorder r;
  m.touch(Gva(kBase), AccessKind::kRead, 0, &r);
  using O = ShadowMmu::Fault::Outcome;
  EXPECT_EQ(r.outcomes, (std::vector<O>{O::kGuestFault, O::kFixed}));
  // The guest's root entry was not present (level 4); its fault zeroed 3 tables (kernel
  // faults) and wrote the shadowed root (an emulated write).
  EXPECT_EQ(r.levels, std::vector<unsigned>{4});
  EXPECT_EQ(r.guest_exits, std::vector<unsigned>{4});
}

// ---- translate_debug agrees with every touch(), whatever happens in between.

struct MixCase {
  WpPolicy policy;
  bool cache_roots;
  os::Thp guest_thp;
  os::Thp host_thp;
  bool pressure = false;  // aging every 50 touches and at most 32 shadow pages
};

class RandomMix : public ::testing::TestWithParam<MixCase> {};

// A pseudo-random mix over 3 address spaces: loads and stores over 4 regions each, CR3
// switches, unmaps and remaps each followed by the guest's INVLPG (as Linux flushes after
// changing a present PTE), teardowns. After every touch its translation is the truth; after
// every event, no shadow leaf outside an unsync page disagrees with the truth, in any
// address space (audit), and after a CR3 write none at all in the new one.
TEST_P(RandomMix, EveryTouchAgreesWithTranslateDebug) {
  const MixCase c = GetParam();
  ShadowMachineParams p = params(c.policy);
  p.shadow.cache_roots = c.cache_roots;
  p.shadow.prefetch = true;
  p.walker.pwc.enabled = true;
  p.guest.thp = c.guest_thp;
  p.host.thp = c.host_thp;
  if (c.pressure) {
    p.shadow.aging = true;
    p.shadow.aging_interval = 50;
    p.shadow.max_pages = 32;
  }
  ShadowMachine m(p);
  std::uint64_t x = 0x9e37'79b9'7f4a'7c15;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::uint16_t pcid = 0;
  auto random_gva = [&] {
    const std::uint64_t region = next() % 4;
    const std::uint64_t page = next() % 96;
    return Gva(kBase + pcid * 64 * GiB + region * 1 * GiB + page * 4 * KiB + next() % 4096);
  };
  unsigned touches = 0;
  for (int op = 0; op < 3000; ++op) {
    const std::uint64_t dice = next() % 100;
    if (dice < 84) {
      const Gva gva = random_gva();
      const AccessKind kind = next() % 3 == 0 ? AccessKind::kWrite : AccessKind::kRead;
      const TouchResult t = m.touch(gva, kind, pcid);
      expect_truth(m, t, gva, pcid);
      if (kind == AccessKind::kWrite) {
        EXPECT_TRUE(t.translation.writable);
      }
      ++touches;
    } else if (dice < 92) {
      const Gva gva = random_gva();
      m.pte_write(gva, next() % 2 == 0 ? PteOp::kUnmap : PteOp::kRemap, pcid);
      m.invlpg(gva, pcid);
      // The GVA's shadow entry is refreshed: it maps the truth or nothing.
      const auto shadow = m.shadow_translate_debug(gva, pcid);
      if (shadow) {
        ASSERT_TRUE(m.translate_debug(gva, pcid).has_value());
        EXPECT_EQ(shadow->hpa_of(gva.value()), m.translate_debug(gva, pcid)->hpa_of(gva.value()));
      }
    } else if (dice < 99) {
      pcid = static_cast<std::uint16_t>(next() % 3);
      m.cr3_write(pcid);
      // A sync point: nothing below the new root is unsync any more.
      EXPECT_TRUE(m.audit(pcid).empty());
    } else {
      m.exit_address_space(pcid);
      m.cr3_write(pcid);  // the guest switches to a (here: new) address space
    }
    for (std::uint16_t q = 0; q < 3; ++q) {
      const auto bad = m.audit(q);
      ASSERT_TRUE(bad.empty()) << "op " << op << " pcid " << q << ": " << bad.size()
                               << " leaves disagree, first at gva " << std::hex
                               << bad.front().gva.value();
    }
  }
  EXPECT_GT(touches, 2000u);
  // Enough happened for the test to mean something.
  EXPECT_GT(stat(m, "vmexits.cr3_write"), 100u);
  EXPECT_GT(stat(m, "vmexits.invlpg"), 100u);
  EXPECT_GT(stat(m, "shadow.page_faults"), 500u);
  // Unsync pages are last-level tables: with 4 KiB guest pages (a 2 MiB guest page's leaf
  // is in an upper-level, write-tracked table). They are synced at CR3 writes when roots
  // are cached (else the CR3 write zaps them first).
  if (c.policy == WpPolicy::kUnsync && c.guest_thp == os::Thp::kNever) {
    EXPECT_GT(stat(m, "shadow.unsync"), 10u);
    if (c.cache_roots) {
      EXPECT_GT(stat(m, "shadow.sync"), 10u);
    }
  } else {
    EXPECT_EQ(stat(m, "shadow.sync"), 0u);
  }
  if (c.policy == WpPolicy::kEmulate) {
    EXPECT_EQ(stat(m, "shadow.unsync"), 0u);
    EXPECT_GT(stat(m, "shadow.wp_writes"), 100u);
  }
  if (!c.cache_roots) {
    EXPECT_GT(stat(m, "shadow.zaps"), 100u);
  }
  if (c.pressure) {
    EXPECT_GT(stat(m, "shadow.aging_drops"), 50u);
    EXPECT_GT(stat(m, "shadow.recycled"), 10u);
    EXPECT_LE(stat(m, "shadow.pages"), 32u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Configurations, RandomMix,
    ::testing::Values(MixCase{WpPolicy::kUnsync, true, os::Thp::kNever, os::Thp::kNever},
                      MixCase{WpPolicy::kEmulate, true, os::Thp::kNever, os::Thp::kNever},
                      MixCase{WpPolicy::kUnsync, false, os::Thp::kNever, os::Thp::kNever},
                      MixCase{WpPolicy::kEmulate, false, os::Thp::kNever, os::Thp::kNever},
                      MixCase{WpPolicy::kUnsync, true, os::Thp::k2M, os::Thp::kNever},
                      MixCase{WpPolicy::kEmulate, true, os::Thp::k2M, os::Thp::k2M},
                      MixCase{WpPolicy::kUnsync, true, os::Thp::kNever, os::Thp::k2M},
                      MixCase{WpPolicy::kUnsync, false, os::Thp::k2M, os::Thp::k2M},
                      MixCase{WpPolicy::kUnsync, true, os::Thp::kNever, os::Thp::kNever, true},
                      MixCase{WpPolicy::kEmulate, true, os::Thp::k2M, os::Thp::kNever, true}),
    [](const auto& i) {
      const MixCase& c = i.param;
      return name(c.policy) + (c.cache_roots ? "_cached" : "_dropped") + "_guest" +
             std::string(page_size_name(os::thp_page_size(c.guest_thp))) + "_host" +
             std::string(page_size_name(os::thp_page_size(c.host_thp))) +
             (c.pressure ? "_pressure" : "");
    });

}  // namespace
}  // namespace pagesim::shadow
