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
#include "models/shadow/shadow_machine.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "models/host/hypervisor.h"
#include "models/walker/pte.h"

namespace pagesim::shadow {
namespace {

namespace pte = walker::pte;

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
  ShadowMachineParams p;
  p.vm.memory = {4 * GiB};
  p.host.memory = {16 * GiB};
  p.guest_levels = levels;
  p.walker.pwc.enabled = false;  // every walk from the root: the reference counts below
  p.shadow.wp_policy = policy;
  p.shadow.prefetch = false;
  return p;
}

std::uint64_t stat(ShadowMachine& m, const std::string& path) {
  for (const auto& row : stats::collect(m.stats_root())) {
    if (row.path == path) {
      if (const auto* v = std::get_if<std::uint64_t>(&row.value)) {
        return *v;
      }
      return static_cast<std::uint64_t>(std::get<double>(row.value));
    }
  }
  ADD_FAILURE() << "no statistic " << path;
  return 0;
}

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

}  // namespace
}  // namespace pagesim::shadow
