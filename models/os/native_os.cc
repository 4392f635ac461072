#include "models/os/native_os.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "models/walker/pte.h"

namespace pagesim::os {

namespace pte = walker::pte;

namespace {

unsigned checked_levels(unsigned levels) {
  if (levels != 4 && levels != 5) {
    throw std::invalid_argument("paging.levels: " + std::to_string(levels) +
                                " is not 4 or 5 (4-level paging or LA57)");
  }
  return levels;
}

// Flags of every entry the OS writes: present, writable, user; A and D left to the walker.
constexpr std::uint64_t kEntryFlags = pte::kPresent | pte::kRw | pte::kUser;

std::string hex(std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), kDigits[v & 0xf]);
    v >>= 4;
  } while (v != 0);
  return "0x" + s;
}

}  // namespace

NativeOs::NativeOs(const OsParams& params, unsigned levels, mem::PhysicalMemory& memory,
                   mem::FrameAllocator& frames, stats::Group* parent)
    : m_params(params),
      m_levels(checked_levels(levels)),
      m_page_size(thp_page_size(params.thp)),
      m_memory(memory),
      m_frames(frames),
      m_stats(parent) {}

Hpa NativeOs::address_space_root(std::uint16_t asid) {
  if (asid >= m_roots.size()) {
    m_roots.resize(std::size_t{asid} + 1, kNoRoot);
  }
  if (m_roots[asid] == kNoRoot) {
    m_roots[asid] = allocate_table().value();
  }
  return Hpa(m_roots[asid]);
}

Hpa NativeOs::allocate_table() {
  const Hpa table = m_frames.allocate_table();
  std::uint64_t* entries = m_memory.frame(table.value() >> mem::PhysicalMemory::kFrameShift);
  std::fill(entries, entries + pte::kEntriesPerTable, std::uint64_t{0});
  ++m_stats.page_table_pages;
  return table;
}

Cycles NativeOs::fault_latency(PageSize size) const {
  const std::uint64_t extra_4k_pages = page_bytes(size) / page_bytes(PageSize::k4K) - 1;
  return m_params.page_fault_latency + m_params.clear_page_latency * extra_4k_pages;
}

Cycles NativeOs::handle_page_fault(std::uint16_t asid, Gva gva, AccessKind) {
  const std::uint64_t va = gva.value();
  const unsigned leaf_level = pagesim::leaf_level(m_page_size);
  std::uint64_t table = address_space_root(asid).value();

  // Missing tables, top-down (Linux: p4d_alloc, pud_alloc, pmd_alloc, pte_alloc).
  for (unsigned level = m_levels; level > leaf_level; --level) {
    const Hpa entry_hpa(table | pte::entry_offset(va, level));
    std::uint64_t entry = m_memory.read_u64(entry_hpa);
    if ((entry & pte::kPresent) == 0) {
      entry = pte::make_table_entry(allocate_table(), kEntryFlags);
      m_memory.write_u64(entry_hpa, entry);
    } else if (pte::is_leaf(entry, level)) {
      throw std::logic_error(
          "os: fault on " + hex(va) + " in asid " + std::to_string(asid) +
          ", already mapped by a " + std::string(page_size_name(pte::leaf_page_size(level))) +
          " page while os.thp maps " + std::string(page_size_name(m_page_size)) + " pages");
    }
    table = entry & pte::kAddressMask;
  }

  // The leaf and its data frame.
  const Hpa leaf_hpa(table | pte::entry_offset(va, leaf_level));
  const std::uint64_t old = m_memory.read_u64(leaf_hpa);
  if ((old & pte::kPresent) != 0) {
    throw std::logic_error("os: fault on " + hex(va) + " in asid " + std::to_string(asid) +
                           (pte::is_leaf(old, leaf_level)
                                ? std::string(", already mapped")
                                : ", already mapped by smaller pages while os.thp maps " +
                                      std::string(page_size_name(m_page_size)) + " pages"));
  }
  const Hpa data = m_frames.allocate(m_page_size);
  m_memory.write_u64(leaf_hpa, pte::make_leaf_entry(data, m_page_size, kEntryFlags));

  ++m_stats.page_faults;
  switch (m_page_size) {
    case PageSize::k4K:
      ++m_stats.mapped_pages_4k;
      break;
    case PageSize::k2M:
      ++m_stats.mapped_pages_2m;
      break;
    case PageSize::k1G:
      ++m_stats.mapped_pages_1g;
      break;
  }
  const Cycles cost = fault_latency(m_page_size);
  m_stats.cycles += cost.count();
  return cost;
}

}  // namespace pagesim::os
