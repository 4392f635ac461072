// The hypervisor model with real pieces: host PhysicalMemory and FrameAllocator, the VMM's
// HostOs, EptTables, the QEMU pc memslots. Expected values are derived beside each
// assertion from the layout (qemu_layout.h: a 4 GiB guest has RAM [0, 640K), [1M, 3G) at
// HVA kRamBase + GPA, and [4G, 5G) at HVA kRamBase + 3G + (GPA - 4G)) and the default
// costs (vmexit 1200, EPT violation handling 3000, host fault 2600 + 1000 per further
// 4 KiB zeroed, MMIO 20000).
#include "models/host/hypervisor.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

#include "base/config/schema.h"
#include "models/host/guest_memory.h"
#include "models/host/host_params.h"

namespace pagesim::host {
namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;
constexpr std::uint64_t kExit = 1200;
constexpr std::uint64_t kEptHandling = 3000;
constexpr std::uint64_t kHostFault4k = 2600;
constexpr std::uint64_t kMmio = 20000;
using Outcome = ViolationResult::Outcome;

struct Vm {
  explicit Vm(os::Thp host_thp = os::Thp::kNever, std::uint64_t vm_bytes = 4 * GiB)
      : memory(16 * GiB),
        frames(16 * GiB, MiB),
        host_mm(hostmm::ReclaimParams{}, 16 * GiB, memory, frames, &root),
        hv(VmParams{.memory = {vm_bytes}}, VmExitParams{},
           os::OsParams{.thp = host_thp, .memory = {16 * GiB}}, ept::EptParams{}, memory, frames,
           host_mm, &root) {}
  std::uint64_t stat(const std::string& path) const {
    for (const auto& row : stats::collect(root)) {
      if (row.path == path) {
        return std::get<std::uint64_t>(row.value);
      }
    }
    ADD_FAILURE() << "no statistic " << path;
    return 0;
  }
  stats::Group root{nullptr, ""};
  mem::PhysicalMemory memory;
  mem::FrameAllocator frames;
  hostmm::HostMm host_mm;
  Hypervisor hv;
};

TEST(HostParams, KeysDefaultsAndChecks) {
  VmParams vm;
  VmExitParams exits;
  config::Schema s;
  s.group("vm", vm);
  s.group("vmexit", exits);
  EXPECT_NO_THROW(s.validate());
  for (const char* key : {"vm.memory", "vm.vcpus", "vmexit.latency", "vmexit.ept_violation_latency",
                          "vmexit.mmio_latency"}) {
    ASSERT_NE(s.find(key), nullptr) << key;
  }
  EXPECT_FALSE(s.find("vmexit.latency")->note_text().empty());
  EXPECT_EQ(vm.memory.bytes, 4 * GiB);
  EXPECT_EQ(exits.latency, Cycles(kExit));

  s.set("vm.memory", "1MiB", "--set");  // below 2 MiB
  EXPECT_THROW(s.validate(), config::ConfigError);
  s.set("vm.memory", "6GiB", "--set");
  EXPECT_NO_THROW(s.validate());
  s.set("vm.memory", "4100", "--set");  // not a multiple of 4 KiB
  EXPECT_THROW(s.validate(), config::ConfigError);
  s.set("vm.memory", "4GiB", "--set");
  s.set("vm.vcpus", "257", "--set");
  EXPECT_THROW(s.validate(), config::ConfigError);
  s.set("vm.vcpus", "0", "--set");
  EXPECT_THROW(s.validate(), config::ConfigError);
  s.set("vm.vcpus", "256", "--set");
  EXPECT_NO_THROW(s.validate());
}

TEST(Hypervisor, FourKiBViolationFaultsTheHostAndInstallsALeaf) {
  Vm vm;
  const Gpa gpa(0x200123);  // slot 1, HVA kRamBase + 0x200123
  const ViolationResult r = vm.hv.handle_ept_violation(gpa, AccessKind::kRead);
  EXPECT_EQ(r.outcome, Outcome::kMapped);
  EXPECT_TRUE(r.host_fault);
  EXPECT_EQ(r.size, PageSize::k4K);
  EXPECT_EQ(r.leaf_base, Gpa(0x200000));
  EXPECT_EQ(r.cycles, Cycles(kExit + kEptHandling + kHostFault4k));
  const auto host = vm.hv.host_os().lookup(Hypervisor::kVmmAsid, Hypervisor::kRamBase + 0x200123);
  ASSERT_TRUE(host.has_value());
  const auto leaf = vm.hv.ept().lookup_debug(gpa);
  ASSERT_TRUE(leaf.has_value());
  EXPECT_EQ(leaf->hpa_of(gpa), host->pa_of(Hypervisor::kRamBase + 0x200123));
  EXPECT_EQ(vm.stat("vmexits.total"), 1u);
  EXPECT_EQ(vm.stat("vmexits.ept_violation"), 1u);
  EXPECT_EQ(vm.stat("vmexits.mmio"), 0u);
  EXPECT_EQ(vm.stat("ept.violations"), 1u);
  EXPECT_EQ(vm.stat("ept.installs.4k"), 1u);
  EXPECT_EQ(vm.stat("host.page_faults"), 1u);

  // The next page of the same host page table: a new host fault (4 KiB host pages).
  EXPECT_TRUE(vm.hv.handle_ept_violation(Gpa(0x201000), AccessKind::kWrite).host_fault);
  // The same GPA again: already mapped, the exit only.
  const ViolationResult again = vm.hv.handle_ept_violation(gpa, AccessKind::kRead);
  EXPECT_EQ(again.outcome, Outcome::kSpurious);
  EXPECT_EQ(again.cycles, Cycles(kExit));
  EXPECT_EQ(vm.stat("ept.violations"), 2u);
  EXPECT_EQ(vm.stat("ept.spurious"), 1u);
  EXPECT_EQ(vm.stat("host.page_faults"), 2u);
}

TEST(Hypervisor, TwoMiBHostPagesGiveTwoMiBLeavesWhereTheSlotAllows) {
  Vm vm(os::Thp::k2M);
  // [2M, 4M) lies in slot 1 [1M, 3G), whose GPA and HVA are congruent (HVA = base + GPA,
  // base 1 GiB aligned): a 2 MiB leaf. Host fault on a 2 MiB page: 2600 + 511 * 1000.
  ViolationResult r = vm.hv.handle_ept_violation(Gpa(0x234000), AccessKind::kRead);
  EXPECT_EQ(r.size, PageSize::k2M);
  EXPECT_EQ(r.leaf_base, Gpa(2 * MiB));
  EXPECT_EQ(r.cycles, Cycles(kExit + kEptHandling + kHostFault4k + 511 * 1000));
  // [0, 2M) reaches below slot 1's base (1M): 4 KiB leaves, though the host page is 2 MiB.
  r = vm.hv.handle_ept_violation(Gpa(0x100000), AccessKind::kRead);
  EXPECT_EQ(r.size, PageSize::k4K);
  EXPECT_TRUE(r.host_fault);  // HVA base + 1M: the host's first 2 MiB page
  r = vm.hv.handle_ept_violation(Gpa(0x101000), AccessKind::kRead);
  EXPECT_EQ(r.size, PageSize::k4K);
  EXPECT_FALSE(r.host_fault);  // same 2 MiB host page
  // High RAM [4G, 5G) at HVA base + 3G: congruent modulo 2 MiB.
  r = vm.hv.handle_ept_violation(Gpa(5 * GiB - 4 * KiB), AccessKind::kWrite);
  EXPECT_EQ(r.size, PageSize::k2M);
  EXPECT_EQ(r.leaf_base, Gpa(5 * GiB - 2 * MiB));
  EXPECT_EQ(vm.stat("ept.installs.2m"), 2u);
  EXPECT_EQ(vm.stat("ept.installs.4k"), 2u);
  EXPECT_EQ(vm.stat("host.page_faults"), 3u);
  EXPECT_EQ(vm.stat("host.mapped_pages_2m"), 3u);
}

TEST(Hypervisor, OneGiBHostPagesGiveOneGiBLeavesInsideTheSlot) {
  // 4.5 GiB guest: slot 1 [1M, 3G), slot 2 [4G, 5.5G) at HVA base + 3G.
  Vm vm(os::Thp::k1G, 4608 * MiB);
  // [1G, 2G) inside slot 1: 1 GiB leaf.
  EXPECT_EQ(vm.hv.handle_ept_violation(Gpa(GiB + 5 * MiB), AccessKind::kRead).size, PageSize::k1G);
  // [4G, 5G) inside slot 2, base - hva = 4G - 3G - base: congruent modulo 1 GiB.
  EXPECT_EQ(vm.hv.handle_ept_violation(Gpa(4 * GiB + 7), AccessKind::kRead).size, PageSize::k1G);
  // [5G, 6G) passes slot 2's end (5.5G): the largest that fits is 2 MiB.
  EXPECT_EQ(vm.hv.handle_ept_violation(Gpa(5 * GiB + 3 * MiB), AccessKind::kRead).size,
            PageSize::k2M);
  // [0, 1G) reaches below slot 1's base: 2 MiB is also out ([0, 2M) too), so 4 KiB.
  EXPECT_EQ(vm.hv.handle_ept_violation(Gpa(MiB), AccessKind::kRead).size, PageSize::k4K);
  // Host faults: 1 GiB host pages at HVA offsets [1G, 2G), [3G, 4G) (GPA 4G), [4G, 5G)
  // (GPA 5G + 3M -> offset 4G + 3M), [0, 1G) (GPA 1M).
  EXPECT_EQ(vm.stat("host.page_faults"), 4u);
}

TEST(Hypervisor, HolesAreMmioExits) {
  Vm vm;
  // 640K-1M VGA/ROM hole, and the PCI hole [3G, 4G) of a guest over 3.5 GiB.
  const std::uint64_t gpas[] = {0xa0000,    0xb8000,     0xfffff, 3 * GiB,
                                0xfee00000, 4 * GiB - 8, 5 * GiB, std::uint64_t{1} << 50};
  for (const std::uint64_t gpa : gpas) {
    const ViolationResult r = vm.hv.handle_ept_violation(Gpa(gpa), AccessKind::kWrite);
    EXPECT_EQ(r.outcome, Outcome::kMmio) << std::hex << gpa;
    EXPECT_EQ(r.cycles, Cycles(kExit + kMmio));
    EXPECT_FALSE(r.host_fault);
    EXPECT_FALSE(vm.hv.ept().lookup_debug(Gpa(gpa)).has_value());
  }
  EXPECT_EQ(vm.stat("vmexits.total"), 8u);
  EXPECT_EQ(vm.stat("vmexits.mmio"), 8u);
  EXPECT_EQ(vm.stat("vmexits.ept_violation"), 0u);
  EXPECT_EQ(vm.stat("vmexits.cycles"), 8 * (kExit + kMmio));
  EXPECT_EQ(vm.stat("host.page_faults"), 0u);
  EXPECT_EQ(vm.stat("ept.installs.4k"), 0u);
}

TEST(Hypervisor, HotAddThenAccessIsMapped) {
  Vm vm(os::Thp::k2M);
  EXPECT_EQ(vm.hv.handle_ept_violation(Gpa(16 * GiB), AccessKind::kRead).outcome, Outcome::kMmio);
  // The VMM's next allocation: right after the 4 GiB RAM block (2 MiB aligned already).
  const Memslot& slot = vm.hv.add_memslot(3, Gpa(16 * GiB), 1 * GiB);
  EXPECT_EQ(slot.hva, Hypervisor::kRamBase + 4 * GiB);
  const ViolationResult r = vm.hv.handle_ept_violation(Gpa(16 * GiB + 3 * MiB), AccessKind::kRead);
  EXPECT_EQ(r.outcome, Outcome::kMapped);
  EXPECT_EQ(r.size, PageSize::k2M);  // congruent, inside the slot, 2 MiB host page
  EXPECT_TRUE(r.host_fault);
  EXPECT_TRUE(vm.hv.ept().lookup_debug(Gpa(16 * GiB + 2 * MiB)).has_value());
  // The guest's RAM ranges now list it.
  EXPECT_EQ(vm.hv.guest_ram_ranges().back(), (mem::RamRange{16 * GiB, 17 * GiB}));

  // A slot whose GPA is 4 KiB off a 2 MiB boundary, HVA at the next 2 MiB boundary
  // (base + 5G): never congruent modulo 2 MiB, so 4 KiB leaves only.
  const Memslot& odd = vm.hv.add_memslot(4, Gpa(32 * GiB + 4 * KiB), 4 * MiB);
  EXPECT_EQ(odd.hva, Hypervisor::kRamBase + 5 * GiB);
  EXPECT_EQ(vm.hv.handle_ept_violation(Gpa(32 * GiB + 2 * MiB), AccessKind::kRead).size,
            PageSize::k4K);
  // An overlapping slot is refused, the HVA cursor unchanged.
  EXPECT_THROW(vm.hv.add_memslot(5, Gpa(16 * GiB), 2 * MiB), MemslotError);
  EXPECT_EQ(vm.hv.add_memslot(5, Gpa(40 * GiB), 2 * MiB).hva,
            Hypervisor::kRamBase + 5 * GiB + 4 * MiB);  // slot 4: 4 MiB at base + 5G
}

TEST(Hypervisor, ReadOnlySlotWritesAreMmio) {
  Vm vm;
  vm.hv.add_memslot(3, Gpa(8 * GiB), 2 * MiB, /*readonly=*/true);
  EXPECT_EQ(vm.hv.handle_ept_violation(Gpa(8 * GiB), AccessKind::kWrite).outcome, Outcome::kMmio);
  EXPECT_FALSE(vm.hv.ept().lookup_debug(Gpa(8 * GiB)).has_value());
  EXPECT_EQ(vm.hv.handle_ept_violation(Gpa(8 * GiB), AccessKind::kRead).outcome, Outcome::kMapped);
  // The leaf lacks W (KVM_MEM_READONLY): R and X only.
  const auto leaf = vm.hv.ept().lookup_debug(Gpa(8 * GiB));
  ASSERT_TRUE(leaf.has_value());
  EXPECT_TRUE(leaf->read);
  EXPECT_FALSE(leaf->write);
  EXPECT_TRUE(leaf->execute);
  // A write through that leaf (the violation the missing W raises): an MMIO exit, the leaf
  // unchanged, not a spurious violation.
  const ViolationResult w = vm.hv.handle_ept_violation(Gpa(8 * GiB + 16), AccessKind::kWrite);
  EXPECT_EQ(w.outcome, Outcome::kMmio);
  EXPECT_EQ(w.cycles, Cycles(kExit + kMmio));
  EXPECT_FALSE(vm.hv.ept().lookup_debug(Gpa(8 * GiB))->write);
  EXPECT_EQ(vm.stat("vmexits.mmio"), 2u);
  EXPECT_EQ(vm.stat("ept.spurious"), 0u);
  // Slot 1 (RAM) gets writable leaves.
  vm.hv.handle_ept_violation(Gpa(2 * MiB), AccessKind::kRead);
  EXPECT_TRUE(vm.hv.ept().lookup_debug(Gpa(2 * MiB))->write);
  // Not RAM to the guest's frame allocator.
  EXPECT_EQ(vm.hv.guest_ram_ranges().back(), (mem::RamRange{4 * GiB, 5 * GiB}));
}

TEST(Hypervisor, ReadOnlySlotHugeLeavesLackWriteToo) {
  // 2 MiB host pages, a 4 MiB read-only slot at 8G (HVA base + 4G: congruent): 2 MiB leaves.
  Vm vm(os::Thp::k2M);
  vm.hv.add_memslot(3, Gpa(8 * GiB), 4 * MiB, /*readonly=*/true);
  const ViolationResult r = vm.hv.handle_ept_violation(Gpa(8 * GiB + 3 * MiB), AccessKind::kRead);
  EXPECT_EQ(r.outcome, Outcome::kMapped);
  EXPECT_EQ(r.size, PageSize::k2M);
  const auto leaf = vm.hv.ept().lookup_debug(Gpa(8 * GiB + 2 * MiB));
  EXPECT_EQ(leaf->size, PageSize::k2M);
  EXPECT_FALSE(leaf->write);
  EXPECT_EQ(vm.hv.handle_ept_violation(Gpa(8 * GiB + 3 * MiB), AccessKind::kWrite).outcome,
            Outcome::kMmio);
}

TEST(Hypervisor, DeleteZapsTheSlotAndLaterAccessesAreMmio) {
  Vm vm;
  vm.hv.handle_ept_violation(Gpa(4 * GiB), AccessKind::kRead);
  vm.hv.handle_ept_violation(Gpa(4 * GiB + 8 * KiB), AccessKind::kRead);
  vm.hv.handle_ept_violation(Gpa(2 * MiB), AccessKind::kRead);  // slot 1: stays
  const GpaRange zapped = vm.hv.remove_memslot(kRamAbove4gSlot);
  EXPECT_EQ(zapped, (GpaRange{Gpa(4 * GiB), Gpa(5 * GiB)}));
  EXPECT_EQ(vm.stat("ept.zaps"), 2u);  // the two 4 KiB leaves in [4G, 5G)
  EXPECT_FALSE(vm.hv.ept().lookup_debug(Gpa(4 * GiB)).has_value());
  EXPECT_TRUE(vm.hv.ept().lookup_debug(Gpa(2 * MiB)).has_value());
  EXPECT_EQ(vm.hv.handle_ept_violation(Gpa(4 * GiB), AccessKind::kRead).outcome, Outcome::kMmio);
  EXPECT_EQ(vm.stat("vmexits.mmio"), 1u);
}

TEST(Hypervisor, MoveZapsTheOldRangeAndTheNewRangeFaultsInWithoutHostFaults) {
  Vm vm;
  vm.hv.add_memslot(3, Gpa(16 * GiB), 4 * MiB);
  vm.hv.handle_ept_violation(Gpa(16 * GiB), AccessKind::kWrite);
  vm.hv.handle_ept_violation(Gpa(16 * GiB + 4 * KiB), AccessKind::kWrite);
  const Hpa before = vm.hv.ept().lookup_debug(Gpa(16 * GiB))->page_base;
  EXPECT_EQ(vm.stat("host.page_faults"), 2u);

  const GpaRange zapped = vm.hv.move_memslot(3, Gpa(32 * GiB));
  EXPECT_EQ(zapped, (GpaRange{Gpa(16 * GiB), Gpa(16 * GiB + 4 * MiB)}));
  EXPECT_EQ(vm.stat("ept.zaps"), 2u);
  EXPECT_FALSE(vm.hv.ept().lookup_debug(Gpa(16 * GiB)).has_value());
  EXPECT_EQ(vm.hv.handle_ept_violation(Gpa(16 * GiB), AccessKind::kRead).outcome, Outcome::kMmio);

  // Same HVA, already backed: the new GPA maps to the same host frame, no host fault.
  const ViolationResult r = vm.hv.handle_ept_violation(Gpa(32 * GiB), AccessKind::kRead);
  EXPECT_EQ(r.outcome, Outcome::kMapped);
  EXPECT_FALSE(r.host_fault);
  EXPECT_EQ(r.cycles, Cycles(kExit + kEptHandling));
  EXPECT_EQ(vm.hv.ept().lookup_debug(Gpa(32 * GiB))->page_base, before);
  EXPECT_EQ(vm.stat("host.page_faults"), 2u);
}

TEST(Hypervisor, ARangeLeftWithEmptyTablesRefaultsAtTheLargestLeaf) {
  // Slot 3 misaligned (GPA 16G + 4K, HVA base + 4G): a 4 KiB leaf under a new EPT page table
  // for [16G, 16G + 2M). Deleted, the leaf is zapped and the (empty) table stays; slot 4
  // over the same GPAs (HVA base + 4G + 4M, after slot 3's 4 MiB, already 2 MiB aligned) is
  // congruent modulo 2 MiB, so the refault installs a 2 MiB leaf over the emptied table,
  // which is unlinked (ept.tables_freed 1), as KVM does.
  Vm vm(os::Thp::k2M);
  vm.hv.add_memslot(3, Gpa(16 * GiB + 4 * KiB), 4 * MiB);
  EXPECT_EQ(vm.hv.handle_ept_violation(Gpa(16 * GiB + 8 * KiB), AccessKind::kRead).size,
            PageSize::k4K);
  vm.hv.remove_memslot(3);
  EXPECT_EQ(vm.stat("ept.zaps"), 1u);
  const std::uint64_t tables = vm.stat("ept.table_pages");
  const Memslot& slot = vm.hv.add_memslot(4, Gpa(16 * GiB), 4 * MiB);
  EXPECT_EQ(slot.hva, Hypervisor::kRamBase + 4 * GiB + 4 * MiB);
  EXPECT_EQ((slot.base.value() - slot.hva.value()) % (2 * MiB), 0u);
  const ViolationResult r = vm.hv.handle_ept_violation(Gpa(16 * GiB + 8 * KiB), AccessKind::kRead);
  EXPECT_EQ(r.outcome, Outcome::kMapped);
  EXPECT_EQ(r.size, PageSize::k2M);
  EXPECT_EQ(r.leaf_base, Gpa(16 * GiB));
  EXPECT_EQ(vm.hv.ept().lookup_debug(Gpa(16 * GiB + 2 * MiB - 1))->size, PageSize::k2M);
  EXPECT_EQ(vm.stat("ept.tables_freed"), 1u);
  EXPECT_EQ(vm.stat("ept.table_pages"), tables);  // nothing allocated, nothing given back
  // [16G + 2M, 16G + 4M) never had a table: 2 MiB as well.
  EXPECT_EQ(vm.hv.handle_ept_violation(Gpa(16 * GiB + 3 * MiB), AccessKind::kRead).size,
            PageSize::k2M);
  EXPECT_EQ(vm.stat("ept.installs.2m"), 2u);
  EXPECT_EQ(vm.stat("ept.installs.4k"), 1u);
}

TEST(GuestPhysicalMemory, FirstTouchOfATablePageIsAnEptViolation) {
  Vm vm;
  GuestPhysicalMemory& gm = vm.hv.guest_memory();
  const Gpa table(0x100000);
  gm.zero_frame(table);  // fresh guest page-table page: faults it in
  EXPECT_EQ(gm.violations(), 1u);
  EXPECT_EQ(gm.take_cycles(), Cycles(kExit + kEptHandling + kHostFault4k));
  EXPECT_EQ(gm.take_cycles(), Cycles(0));
  gm.write_u64(table + 8, 0x1234567);
  EXPECT_EQ(gm.read_u64(table + 8), 0x1234567u);
  EXPECT_EQ(gm.violations(), 1u);
  // Stored at the HPA the EPT gives.
  const Hpa hpa = vm.hv.ept().lookup_debug(table)->hpa_of(table + 8);
  EXPECT_EQ(vm.memory.read_u64(hpa), 0x1234567u);
  EXPECT_EQ(vm.stat("vmexits.ept_violation"), 1u);
  // A guest table in MMIO space (a slot deleted under it) is an error saying so, not a crash.
  EXPECT_THROW(gm.write_u64(Gpa(0xa0000), 1), std::runtime_error);
}

TEST(Hypervisor, StatisticsHaveUniquePaths) {
  Vm vm;
  vm.hv.handle_ept_violation(Gpa(MiB), AccessKind::kRead);
  std::set<std::string> paths;
  for (const auto& row : stats::collect(vm.root)) {  // throws on a duplicate path
    paths.insert(row.path);
  }
  for (const char* p : {"vmexits.total", "vmexits.ept_violation", "vmexits.mmio", "ept.violations",
                        "ept.zaps", "ept.installs.4k", "host.page_faults"}) {
    EXPECT_TRUE(paths.contains(p)) << p;
  }
}

}  // namespace
}  // namespace pagesim::host
