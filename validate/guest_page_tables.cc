#include "validate/guest_page_tables.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace pagesim::validate {

namespace {
constexpr std::uint64_t kTableFlags = kPtePresent | kPteWritable | kPteUser | kPteAccessed;
}

GuestPageTables::GuestPageTables(GpaResolver memory, Gpa* pool_next, Gpa pool_end)
    : m_memory(std::move(memory)), m_pool_next(pool_next), m_pool_end(pool_end) {
  m_root = alloc_table(4);
}

Gpa GuestPageTables::alloc_table(int level) {
  const Gpa page = *m_pool_next;
  if (page.value() + 4096 > m_pool_end.value()) {
    throw std::runtime_error("guest page-table pool exhausted at GPA " +
                             std::to_string(page.value()));
  }
  std::uint8_t* p = m_memory(page);
  if (p == nullptr) throw std::runtime_error("guest page-table pool outside guest memory");
  std::memset(p, 0, 4096);
  *m_pool_next = page + 4096;
  ++m_table_pages;
  ++m_level_pages[level - 1];
  return page;
}

std::uint64_t* GuestPageTables::entry(Gpa table, unsigned index) const {
  std::uint8_t* p = m_memory(table);
  if (p == nullptr) throw std::runtime_error("guest page table outside guest memory");
  return reinterpret_cast<std::uint64_t*>(p) + index;
}

void GuestPageTables::map(Gva gva, Gpa gpa, Size size, std::uint64_t leaf_flags) {
  const int leaf_level = size == Size::k4K ? 1 : 2;
  const std::uint64_t align = size == Size::k4K ? 4096 : (2u << 20);
  if (gva.value() % align != 0 || gpa.value() % align != 0) {
    throw std::invalid_argument("GuestPageTables::map: unaligned address");
  }
  Gpa table = m_root;
  for (int level = 4; level > leaf_level; --level) {
    std::uint64_t* e = entry(table, index(gva, level));
    if ((*e & kPtePresent) == 0) {
      *e = alloc_table(level - 1).value() | kTableFlags;
    } else if ((*e & kPteLarge) != 0) {
      throw std::invalid_argument("GuestPageTables::map: a large page is in the way");
    }
    table = Gpa(*e & kPteAddrMask);
  }
  std::uint64_t* leaf = entry(table, index(gva, leaf_level));
  *leaf = gpa.value() | kPtePresent | leaf_flags | (size == Size::k2M ? kPteLarge : 0);
}

std::optional<Gpa> GuestPageTables::leaf_entry(Gva gva) const {
  Gpa table = m_root;
  for (int level = 4; level >= 1; --level) {
    const Gpa at = table + 8ull * index(gva, level);
    const std::uint64_t e = *entry(table, index(gva, level));
    if ((e & kPtePresent) == 0) return std::nullopt;
    if (level == 1 || (level <= 3 && (e & kPteLarge) != 0)) return at;
    table = Gpa(e & kPteAddrMask);
  }
  return std::nullopt;
}

std::optional<Gpa> GuestPageTables::translate(Gva gva) const {
  Gpa table = m_root;
  for (int level = 4; level >= 1; --level) {
    const std::uint64_t e = *entry(table, index(gva, level));
    if ((e & kPtePresent) == 0) return std::nullopt;
    if (level == 1 || (level <= 3 && (e & kPteLarge) != 0)) {
      const std::uint64_t offset_mask = (1ull << (12 + 9 * (level - 1))) - 1;
      return Gpa((e & kPteAddrMask & ~offset_mask) | (gva.value() & offset_mask));
    }
    table = Gpa(e & kPteAddrMask);
  }
  return std::nullopt;
}

void GuestPageTables::share_pml4e(const GuestPageTables& other, Gva gva) {
  *entry(m_root, index(gva, 4)) = *other.entry(other.m_root, index(gva, 4));
}

}  // namespace pagesim::validate
