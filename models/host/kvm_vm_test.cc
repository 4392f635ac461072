// kvm_vm.h: the VM-level logic KVM's two MMUs share. Each expectation is the rule of
// kvm_mmu_max_mapping_level / lpage_info or of kvm_handle_hva_range worked out by hand.
#include "models/host/kvm_vm.h"

#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace pagesim::host {
namespace {

constexpr std::uint64_t kMiB = 1ull << 20, kGiB = 1ull << 30;

TEST(KvmVm, MaxMappingSizeIsBoundByTheHostPageTheSlotAndAlignment) {
  // A 4 GiB slot at GPA 4 GiB, its HVA congruent modulo 1 GiB.
  const Memslot slot{.id = 1, .base = Gpa(4 * kGiB), .bytes = 4 * kGiB, .hva = Hva(64 * kGiB)};
  EXPECT_EQ(max_mapping_size(slot, Gpa(5 * kGiB + 12345), PageSize::k1G), PageSize::k1G);
  EXPECT_EQ(max_mapping_size(slot, Gpa(5 * kGiB), PageSize::k2M), PageSize::k2M);  // host page
  EXPECT_EQ(max_mapping_size(slot, Gpa(5 * kGiB), PageSize::k4K), PageSize::k4K);
  // HVA 2 MiB off the GPA modulo 1 GiB: 1 GiB leaves impossible, 2 MiB fine.
  Memslot shifted = slot;
  shifted.hva = Hva(64 * kGiB + 2 * kMiB);
  EXPECT_EQ(max_mapping_size(shifted, Gpa(5 * kGiB), PageSize::k1G), PageSize::k2M);
  // A slot of 1 GiB at GPA 1 MiB, [1 MiB, 1 GiB + 1 MiB): the 2 MiB page around GPA 1 MiB
  // reaches below the slot (its unaligned head), the one at 1 GiB past its end (its tail).
  const Memslot head{.id = 2, .base = Gpa(kMiB), .bytes = kGiB, .hva = Hva(kMiB)};
  EXPECT_EQ(max_mapping_size(head, Gpa(kMiB), PageSize::k2M), PageSize::k4K);
  EXPECT_EQ(max_mapping_size(head, Gpa(2 * kMiB), PageSize::k2M), PageSize::k2M);
  EXPECT_EQ(max_mapping_size(head, Gpa(kGiB), PageSize::k2M), PageSize::k4K);
  // The MMU's own condition: smaller leaves already there forbid the huge one.
  EXPECT_EQ(max_mapping_size(slot, Gpa(5 * kGiB), PageSize::k1G,
                             [](Gpa, std::uint64_t bytes) { return bytes < kGiB; }),
            PageSize::k2M);
}

TEST(KvmVm, AnHvaRangeMapsBackToEachSlotThatHoldsIt) {
  MemslotTable t;
  t.add(Memslot{.id = 0, .base = Gpa(0), .bytes = 4 * kMiB, .hva = Hva(1 * kGiB)});
  // Slot 1 aliases the second half of slot 0's memory at GPA 1 GiB.
  t.add(Memslot{.id = 1, .base = Gpa(kGiB), .bytes = 2 * kMiB, .hva = Hva(1 * kGiB + 2 * kMiB)});
  std::vector<std::pair<std::uint64_t, std::uint64_t>> got;
  for_each_gpa_range(t, Hva(kGiB + kMiB), Hva(kGiB + 3 * kMiB),
                     [&](Gpa g, std::uint64_t bytes) { got.emplace_back(g.value(), bytes); });
  // Slot 0: HVA [1 GiB + 1 MiB, + 2 MiB) is GPA [1 MiB, 3 MiB); slot 1: its first 1 MiB.
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> want = {{kMiB, 2 * kMiB},
                                                                     {kGiB, kMiB}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(memslot_pages(t), (4 * kMiB + 2 * kMiB) / 4096);
}

TEST(KvmVm, GuestRamIsTheWritableSlotsMerged) {
  MemslotTable t;
  t.add(Memslot{.id = 0, .base = Gpa(0), .bytes = kMiB, .hva = Hva(kGiB)});
  t.add(Memslot{.id = 1, .base = Gpa(kMiB), .bytes = kMiB, .hva = Hva(2 * kGiB)});
  t.add(Memslot{.id = 2,
                .base = Gpa(4 * kMiB),
                .bytes = kMiB,
                .hva = Hva(3 * kGiB),
                .readonly = true});  // ROM: not RAM
  const std::vector<mem::RamRange> want = {{0, 2 * kMiB}};
  EXPECT_EQ(guest_ram_ranges(t), want);
}

}  // namespace
}  // namespace pagesim::host
