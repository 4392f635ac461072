#include "models/host/qemu_layout.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace pagesim::host {

std::uint64_t qemu_pc_below_4g_bytes(std::uint64_t vm_memory_bytes) {
  // pc_init1(): lowmem = max_ram_below_4g, lowered to 3 GiB (gigabyte_align) when the RAM
  // needs splitting at all.
  std::uint64_t lowmem = kQemuMaxRamBelow4g;
  if (vm_memory_bytes >= kQemuMaxRamBelow4g) {
    lowmem = std::min(lowmem, kQemuGigabyteLowmem);
  }
  return std::min(vm_memory_bytes, lowmem);
}

std::vector<Memslot> qemu_pc_layout(std::uint64_t vm_memory_bytes, Hva ram_base) {
  if (vm_memory_bytes == 0 || vm_memory_bytes % kMemslotAlignBytes != 0) {
    throw std::invalid_argument("vm.memory: " + std::to_string(vm_memory_bytes) +
                                " bytes is not a nonzero multiple of 4 KiB");
  }
  if (ram_base.value() % kMemslotAlignBytes != 0) {
    throw std::invalid_argument("qemu_pc_layout: the RAM block must start at a 4 KiB boundary");
  }
  const std::uint64_t below = qemu_pc_below_4g_bytes(vm_memory_bytes);
  const std::uint64_t above = vm_memory_bytes - below;
  std::vector<Memslot> slots;
  // Low RAM: block offsets = GPAs.
  slots.push_back(Memslot{kLowRamSlot, Gpa(0), std::min(below, kVgaHoleBegin), ram_base, false});
  if (below > kVgaHoleEnd) {
    slots.push_back(Memslot{kRamBelow4gSlot, Gpa(kVgaHoleEnd), below - kVgaHoleEnd,
                            ram_base + kVgaHoleEnd, false});
  }
  if (above > 0) {
    slots.push_back(Memslot{kRamAbove4gSlot, Gpa(kFourGiB), above, ram_base + below, false});
  }
  return slots;
}

std::vector<GpaRange> ram_ranges(std::span<const Memslot> slots) {
  std::vector<GpaRange> ranges;
  for (const Memslot& slot : slots) {
    if (!slot.readonly) {
      ranges.push_back(GpaRange{slot.base, slot.end()});
    }
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const GpaRange& a, const GpaRange& b) { return a.begin < b.begin; });
  std::vector<GpaRange> merged;
  for (const GpaRange& r : ranges) {
    if (!merged.empty() && merged.back().end == r.begin) {
      merged.back().end = r.end;
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

}  // namespace pagesim::host
