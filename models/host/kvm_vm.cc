#include "models/host/kvm_vm.h"

#include "models/host/qemu_layout.h"

namespace pagesim::host {

std::vector<mem::RamRange> guest_ram_ranges(const MemslotTable& slots) {
  std::vector<mem::RamRange> out;
  for (const GpaRange& r : ram_ranges(slots.slots())) {
    out.emplace_back(r.begin.value(), r.end.value());
  }
  return out;
}

std::uint64_t memslot_pages(const MemslotTable& slots) {
  std::uint64_t pages = 0;
  for (const Memslot& s : slots.slots()) {
    pages += s.bytes / page_bytes(PageSize::k4K);
  }
  return pages;
}

}  // namespace pagesim::host
