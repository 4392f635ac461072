// The whole machine: guest OS, hypervisor, host OS and 2D walker, real pieces throughout.
//
// Derivations used below, for a fresh 4 GiB guest (qemu_layout.h: RAM [0, 640K), [1M, 3G)
// at HVA kRamBase + GPA, [4G, 5G) at HVA kRamBase + 3G + (GPA - 4G)) with 4-level guest
// paging, guest.thp = never:
// - guest frame order (frame_allocator.h, page_table_os.h): page-table frames ascend from
//   1 MiB: the root at 1M (allocated on the address space's first touch), then per fault
//   the missing PDPT, PD, PT top-down; data frames descend from 5G: 5G - 4K, 5G - 8K, ...
// - every guest page-table page and data page is a distinct guest-physical 4 KiB page, and
//   each is first touched by the guest (a table by its zeroing, data by the walk), so on
//   4 KiB EPT leaves each costs exactly one EPT violation;
// - host faults: one per distinct host page (4 KiB, or 2 MiB with host.thp = 2m) of the
//   HVAs of those GPAs.
#include "models/machine/nested_machine.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace pagesim::host {
namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;
constexpr std::uint64_t kHostFault4k = 2600;
constexpr std::uint64_t kViolation = 1200 + 3000;  // exit + KVM handling

NestedMachineParams params(os::Thp host_thp = os::Thp::kNever, unsigned guest_levels = 4,
                           unsigned ept_levels = 4) {
  NestedMachineParams p;
  p.vm.memory = {4 * GiB};
  p.host.thp = host_thp;
  p.host.memory = {16 * GiB};
  p.guest_levels = guest_levels;
  p.ept.levels = ept_levels;
  p.walker.pwc.enabled = false;  // every cache off: the formula's reference counts
  p.nested.ept_pwc.enabled = false;
  p.nested.ntlb.enabled = false;
  p.nested.pte_cache.enabled = false;
  return p;
}

std::uint64_t stat(NestedMachine& m, const std::string& path) {
  for (const auto& row : stats::collect(m.stats_root())) {
    if (row.path == path) {
      return std::get<std::uint64_t>(row.value);
    }
  }
  ADD_FAILURE() << "no statistic " << path;
  return 0;
}

// The QEMU pc HVA of a 4 GiB guest's RAM GPA, from the layout (not from the model).
std::uint64_t hva_of(std::uint64_t gpa) {
  const std::uint64_t base = Hypervisor::kRamBase.value();
  return gpa < 4 * GiB ? base + gpa : base + 3 * GiB + (gpa - 4 * GiB);
}

// The guest's table and data GPAs after touching `gvas` in order, from the frame order:
// tables 1M + 4K * k for k < tables, data 5G - 4K * (i + 1).
struct Expected {
  std::vector<std::uint64_t> table_gpas;
  std::vector<std::uint64_t> data_gpas;
};
Expected expected_gpas(std::size_t tables, std::size_t pages) {
  Expected e;
  for (std::size_t k = 0; k < tables; ++k) {
    e.table_gpas.push_back(MiB + 4 * KiB * k);
  }
  for (std::size_t i = 0; i < pages; ++i) {
    e.data_gpas.push_back(5 * GiB - 4 * KiB * (i + 1));
  }
  return e;
}

std::size_t distinct_pages(const Expected& e, std::uint64_t page_bytes, bool hva) {
  std::set<std::uint64_t> pages;
  for (const auto* v : {&e.table_gpas, &e.data_gpas}) {
    for (const std::uint64_t gpa : *v) {
      pages.insert((hva ? hva_of(gpa) : gpa) / page_bytes);
    }
  }
  return pages.size();
}

TEST(NestedMachine, FirstTouchFaultsGuestThenEptThenWalks) {
  NestedMachine m(params());
  const Gva gva(0x400000000);
  const TouchResult t = m.touch(gva, AccessKind::kWrite);
  ASSERT_EQ(t.outcome, TouchResult::Outcome::kOk);
  // Walk 1: guest root present (EPT-mapped when zeroed), PML4E not present -> guest fault.
  // Walk 2: guest tables mapped by the fault, data GPA not in the EPT -> EPT violation.
  // Walk 3: the translation.
  EXPECT_EQ(t.walks, 3u);
  EXPECT_EQ(t.guest_faults, 1u);
  EXPECT_EQ(t.ept_violations, 1u);
  EXPECT_EQ(t.table_violations, 4u);  // root, PDPT, PD, PT, each zeroed once
  EXPECT_EQ(t.host_faults, 1u);
  // Cost: walks + guest fault (2600) + 5 violations each with a 4 KiB host fault.
  EXPECT_EQ(t.cycles,
            t.walk_cycles + Cycles(kHostFault4k) + Cycles(5 * (kViolation + kHostFault4k)));
  // The data frame is the guest's first: 5G - 4K; its host frame is what the EPT gives.
  EXPECT_EQ(m.guest_os().lookup(0, gva)->page_base, Gpa(5 * GiB - 4 * KiB));
  EXPECT_EQ(t.translation.page_base,
            m.hypervisor().ept().lookup_debug(Gpa(5 * GiB - 4 * KiB))->page_base);
  EXPECT_EQ(stat(m, "guest.page_faults"), 1u);
}

// N distinct pages in one 2 MiB guest region: 4 guest tables, N data pages.
TEST(NestedMachine, EptViolationsEqualDistinctGuestPhysicalPagesTouched) {
  constexpr std::size_t kPages = 64;
  NestedMachine m(params());
  for (std::size_t i = 0; i < kPages; ++i) {
    ASSERT_EQ(m.touch(Gva(0x400000000 + i * 4 * KiB), AccessKind::kRead).outcome,
              TouchResult::Outcome::kOk);
  }
  const Expected e = expected_gpas(4, kPages);
  for (std::size_t i = 0; i < kPages; ++i) {
    EXPECT_EQ(m.guest_os().lookup(0, Gva(0x400000000 + i * 4 * KiB))->page_base,
              Gpa(e.data_gpas[i]));
  }
  // 4 + 64 = 68 distinct guest-physical 4 KiB pages; their HVAs are 68 distinct 4 KiB pages.
  EXPECT_EQ(stat(m, "ept.violations"), distinct_pages(e, 4 * KiB, false));
  EXPECT_EQ(stat(m, "ept.violations"), 68u);
  EXPECT_EQ(stat(m, "vmexits.total"), 68u);
  EXPECT_EQ(stat(m, "vmexits.ept_violation"), 68u);
  EXPECT_EQ(stat(m, "vmexits.mmio"), 0u);
  EXPECT_EQ(stat(m, "host.page_faults"), distinct_pages(e, 4 * KiB, true));
  EXPECT_EQ(stat(m, "guest.page_faults"), kPages);
  EXPECT_EQ(stat(m, "guest.page_table_pages"), 4u);
}

// 600 pages 2 MiB apart from a 1 GiB-aligned GVA: a PT each, two PDs (512 PDEs each),
// one PDPT, the root: 604 tables at GPAs [1M, 1M + 604 * 4K) = [1M, 3.36M).
TEST(NestedMachine, StridedPagesFourKiBHost) {
  constexpr std::size_t kPages = 600;
  NestedMachine m(params());
  for (std::size_t i = 0; i < kPages; ++i) {
    ASSERT_EQ(m.touch(Gva(0x4000000000 + i * 2 * MiB), AccessKind::kRead).outcome,
              TouchResult::Outcome::kOk);
  }
  const Expected e = expected_gpas(604, kPages);
  EXPECT_EQ(stat(m, "guest.page_table_pages"), 604u);
  EXPECT_EQ(stat(m, "ept.violations"), distinct_pages(e, 4 * KiB, false));  // 1204
  EXPECT_EQ(stat(m, "ept.violations"), 1204u);
  EXPECT_EQ(stat(m, "host.page_faults"), distinct_pages(e, 4 * KiB, true));  // 1204
}

TEST(NestedMachine, StridedPagesTwoMiBHost) {
  constexpr std::size_t kPages = 600;
  NestedMachine m(params(os::Thp::k2M));
  for (std::size_t i = 0; i < kPages; ++i) {
    ASSERT_EQ(m.touch(Gva(0x4000000000 + i * 2 * MiB), AccessKind::kRead).outcome,
              TouchResult::Outcome::kOk);
  }
  const Expected e = expected_gpas(604, kPages);
  // Host faults: distinct 2 MiB HVA regions. Tables: HVA base + [1M, 3.36M): regions 0, 1.
  // Data: HVA base + [4G - 2.4M, 4G): 2 regions. 4 in all.
  EXPECT_EQ(stat(m, "host.page_faults"), distinct_pages(e, 2 * MiB, true));
  EXPECT_EQ(stat(m, "host.page_faults"), 4u);
  // EPT leaves: the 256 table pages in [1M, 2M) get 4 KiB leaves ([0, 2M) reaches below
  // slot 1's base, 1M): 256 violations; the tables in [2M, 3.36M) share one 2 MiB leaf;
  // the data in [5G - 2.4M, 5G) lies in two 2 MiB leaves (slot 2 is congruent): 259.
  EXPECT_EQ(stat(m, "ept.violations"), 256u + 1u + 2u);
  EXPECT_EQ(stat(m, "ept.installs.4k"), 256u);
  EXPECT_EQ(stat(m, "ept.installs.2m"), 3u);
}

// Every cache off, 4 KiB leaves on both sides: (n+1)(m+1)-1 references per walk.
TEST(NestedMachine, TwoDimensionalWalkMakesTheFormulasReferences) {
  struct Case {
    unsigned n, m, refs;
  };
  for (const Case c : {Case{4, 4, 24}, Case{5, 5, 35}, Case{4, 5, 29}, Case{5, 4, 29}}) {
    NestedMachine m(params(os::Thp::kNever, c.n, c.m));
    const Gva gva(0x7f1234567000);
    ASSERT_EQ(m.touch(gva, AccessKind::kRead).outcome, TouchResult::Outcome::kOk);
    const TouchResult again = m.touch(gva, AccessKind::kRead);  // populated: one walk
    EXPECT_EQ(again.walks, 1u);
    EXPECT_EQ(again.walk.refs, c.refs) << c.n << "+" << c.m;
    EXPECT_EQ(again.walk.guest_refs, c.n);
    EXPECT_EQ(again.walk.host_refs, c.refs - c.n);
    EXPECT_EQ(again.cycles, Cycles(100 * c.refs));  // memory_latency 100 per reference
    EXPECT_EQ(m.translate_debug(gva).refs, c.refs);
    EXPECT_EQ(stat(m, "vmexits.total"), c.n + 1u);  // n guest tables + the data page
  }
}

TEST(NestedMachine, DeletedSlotThenAccessIsAnMmioExit) {
  NestedMachine m(params());
  const Gva gva(0x400000000);
  ASSERT_EQ(m.touch(gva, AccessKind::kRead).outcome, TouchResult::Outcome::kOk);
  // The data page (5G - 4K) lies in slot 2; the guest's tables in slot 1 stay.
  EXPECT_EQ(m.remove_memslot(kRamAbove4gSlot), (GpaRange{Gpa(4 * GiB), Gpa(5 * GiB)}));
  const TouchResult t = m.touch(gva, AccessKind::kRead);
  EXPECT_EQ(t.outcome, TouchResult::Outcome::kMmio);
  EXPECT_EQ(t.walk.gpa, Gpa(5 * GiB - 4 * KiB));
  EXPECT_EQ(stat(m, "vmexits.mmio"), 1u);
  EXPECT_EQ(stat(m, "ept.zaps"), 1u);
}

// machine::Machine::handle for a memslot deleted: the zapped range, every TLB entry of the
// VM (INVEPT), and the host's requests taken with it.
TEST(NestedMachine, HandleDeletesASlotAndAnswersTheVmsFlush) {
  NestedMachine m(params());
  using Kind = machine::GuestEvent::Kind;
  EXPECT_TRUE(m.models(Kind::kMemslotDelete));
  EXPECT_NE(m.host_view().mm, nullptr);
  const Gva gva(0x400000000);
  ASSERT_EQ(m.touch(gva, AccessKind::kRead).outcome, TouchResult::Outcome::kOk);
  const machine::EventResult e = m.handle({.kind = Kind::kMemslotDelete, .slot = kRamAbove4gSlot});
  ASSERT_TRUE(e.zapped.has_value());
  EXPECT_EQ(*e.zapped, (GpaRange{Gpa(4 * GiB), Gpa(5 * GiB)}));
  EXPECT_EQ(e.flush, TlbFlush::all());
  EXPECT_EQ(m.touch(gva, AccessKind::kRead).outcome, TouchResult::Outcome::kMmio);
  // A guest event with nothing for the machine (the guest's MOV CR3 does not exit).
  const machine::EventResult cr3 = m.handle({.kind = Kind::kCr3, .pcid = 3});
  EXPECT_EQ(cr3.flush, TlbFlush::none());
  EXPECT_EQ(cr3.cycles, Cycles());
  EXPECT_FALSE(cr3.zapped.has_value());
}

TEST(NestedMachine, MovedSlotRefaultsAtItsNewPlace) {
  NestedMachine m(params());
  const Gva gva(0x400000000);
  ASSERT_EQ(m.touch(gva, AccessKind::kRead).outcome, TouchResult::Outcome::kOk);
  const Hpa hpa = m.translate_debug(gva).translation.page_base;
  // Slot 2 moves to [8G, 9G): the guest's PTE still says 5G - 4K, now MMIO.
  EXPECT_EQ(m.move_memslot(kRamAbove4gSlot, Gpa(8 * GiB)), (GpaRange{Gpa(4 * GiB), Gpa(5 * GiB)}));
  EXPECT_EQ(m.touch(gva, AccessKind::kRead).outcome, TouchResult::Outcome::kMmio);
  // The same guest data at its new GPA (9G - 4K): an EPT violation, no host fault, the
  // same host frame.
  const std::uint64_t host_faults = stat(m, "host.page_faults");
  const ViolationResult v =
      m.hypervisor().handle_ept_violation(Gpa(9 * GiB - 4 * KiB), AccessKind::kRead);
  EXPECT_EQ(v.outcome, ViolationResult::Outcome::kMapped);
  EXPECT_FALSE(v.host_fault);
  EXPECT_EQ(stat(m, "host.page_faults"), host_faults);
  EXPECT_EQ(m.hypervisor().ept().lookup_debug(Gpa(9 * GiB - 4 * KiB))->page_base, hpa);
}

}  // namespace
}  // namespace pagesim::host
