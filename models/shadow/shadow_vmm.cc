#include "models/shadow/shadow_vmm.h"

#include <algorithm>

#include "models/host/hypervisor.h"
#include "models/host/memslot_layout.h"
#include "models/host/qemu_layout.h"

namespace pagesim::shadow {

namespace {

std::uint64_t align_up(std::uint64_t v, std::uint64_t align) {
  return (v + align - 1) & ~(align - 1);
}

using host::Hypervisor;

}  // namespace

ShadowVmm::ShadowVmm(const host::VmParams& vm, const os::OsParams& host, hostmm::HostMm& mm,
                     mem::PhysicalMemory& memory, mem::FrameAllocator& frames, stats::Group* parent,
                     stats::Group* vm_stats_parent)
    : m_slots(host::memslot_layout(vm, Hypervisor::kRamBase)),
      m_phys(memory),
      m_memory(mm, host, memory, frames, parent,
               vm_stats_parent != nullptr ? vm_stats_parent : parent, vm.vcpus),
      m_next_hva(align_up(Hypervisor::kRamBase.value() + vm.memory.bytes, Hypervisor::kHvaAlign)),
      m_backing(vm.backing) {
  // The VMM's mappings of the memory behind vm.layout's slots; slots added later go
  // above them.
  for (const host::VmmMapping& m : host::vmm_mappings(vm, Hypervisor::kRamBase)) {
    if (m.backing == host::Backing::kMemfd) {
      m_memory.add_shmem(m.begin, m.end);
    } else {
      m_memory.add_anon(m.begin, m.end, m.thp);
    }
    m_next_hva = std::max(m_next_hva, align_up(m.end.value(), Hypervisor::kHvaAlign));
  }
}

std::optional<ShadowVmm::Backing> ShadowVmm::fault_in(Gpa gpa, AccessKind kind, Cycles& cycles,
                                                      bool& host_fault) {
  const host::Memslot* slot = m_slots.find(gpa);
  if (slot == nullptr) {
    return std::nullopt;
  }
  const Hva hva = slot->to_hva(gpa);
  if (kind != AccessKind::kWrite && m_memory.map_zero_page(hva, cycles, host_fault)) {
    m_saved.erase(hva.value() >> 12);  // reads as zeros now
    return zero_page_backing(hva, slot);
  }
  const bool copy_on_write = kind == AccessKind::kWrite && m_memory.zero_mapped(hva);
  bool faulted = false;
  const hostmm::VmmMemory::Mapping page = m_memory.fault_in(hva, kind, cycles, faulted);
  if (faulted) {
    host_fault = true;
    if (!m_saved.empty()) {
      // Resident again, with its contents (a swap-in) or zeros (a discarded page).
      const Hva base = hva.page_base(page_shift(page.size));
      const std::uint64_t first = base.value() >> 12;
      for (std::uint64_t p = first; p < first + (page_bytes(page.size) >> 12); ++p) {
        const auto saved = m_saved.find(p);
        if (saved == m_saved.end()) {
          continue;
        }
        const Hva page_hva(p << 12);
        if (slot->contains_hva(page_hva)) {
          const Hpa frame = page.pa_of(page_hva);
          for (std::uint64_t i = 0; i < saved->second.size(); ++i) {
            if (m_phys.read_u64(frame + 8 * i) != saved->second[i]) {
              m_lost_gfns.insert(slot->to_gpa(page_hva).value() >> 12);
              break;
            }
          }
        }
        m_saved.erase(saved);
      }
    }
  }
  // The memslot table is unchanged by a host fault: `slot` is still valid.
  return Backing{page.pa_of(hva), page.size, slot, true, copy_on_write};
}

ShadowVmm::Backing ShadowVmm::zero_page_backing(Hva hva, const host::Memslot* slot) const {
  // The 4 KiB zero page, or the huge zero page over the 2 MiB (a huge leaf may map it).
  const hostmm::VmmMemory::Mapping zero = *m_memory.zero_mapping(hva);
  return Backing{zero.pa_of(hva), zero.size, slot, false, false};
}

std::optional<ShadowVmm::Backing> ShadowVmm::resident(Gpa gpa) const {
  const host::Memslot* slot = m_slots.find(gpa);
  if (slot == nullptr) {
    return std::nullopt;
  }
  const Hva hva = slot->to_hva(gpa);
  const auto page = m_memory.lookup(hva);
  if (!page) {
    if (m_memory.zero_mapped(hva)) {
      return zero_page_backing(hva, slot);
    }
    return std::nullopt;
  }
  return Backing{page->pa_of(hva), page->size, slot};
}

std::optional<std::uint64_t> ShadowVmm::peek_u64(Gpa gpa) const {
  const host::Memslot* slot = m_slots.find(gpa);
  if (slot == nullptr) {
    return std::nullopt;
  }
  const Hva hva = slot->to_hva(gpa);
  if (const auto page = m_memory.lookup(hva)) {
    return m_phys.read_u64(page->pa_of(hva));
  }
  if (m_memory.zero_mapped(hva)) {
    return 0;
  }
  if (const auto it = m_saved.find(hva.value() >> 12); it != m_saved.end()) {
    return it->second[(hva.value() & 0xfff) >> 3];
  }
  return 0;  // never touched, or evicted holding zeros
}

void ShadowVmm::save_contents(Hva begin, Hva end) {
  constexpr std::uint64_t kWords = page_bytes(PageSize::k4K) / 8;
  for (std::uint64_t a = begin.value() & ~std::uint64_t{0xfff}; a < end.value();
       a += page_bytes(PageSize::k4K)) {
    const auto page = m_memory.lookup(Hva(a));
    if (!page) {
      continue;
    }
    const Hpa base = page->pa_of(Hva(a));
    std::uint64_t i = 0;
    while (i < kWords && m_phys.read_u64(base + 8 * i) == 0) {
      ++i;
    }
    if (i == kWords) {
      m_saved.erase(a >> 12);
      continue;
    }
    std::vector<std::uint64_t>& words = m_saved[a >> 12];
    words.resize(kWords);
    for (i = 0; i < kWords; ++i) {
      words[i] = m_phys.read_u64(base + 8 * i);
    }
  }
}

const host::Memslot& ShadowVmm::add_memslot(std::uint32_t id, Gpa base, std::uint64_t bytes,
                                            bool readonly, std::optional<Hva> hva) {
  const host::Memslot slot{.id = id,
                           .base = base,
                           .bytes = bytes,
                           .hva = hva ? *hva : Hva(m_next_hva),
                           .readonly = readonly};
  m_slots.add(slot);  // throws MemslotError, nothing changed
  if (!hva) {
    m_next_hva = align_up(m_next_hva + bytes, Hypervisor::kHvaAlign);
    if (m_backing == host::Backing::kMemfd) {
      m_memory.add_shmem(slot.hva, slot.hva + bytes);
    } else {
      m_memory.add_anon(slot.hva, slot.hva + bytes);
    }
  }
  return *m_slots.find_id(id);
}

}  // namespace pagesim::shadow
