#include "models/ept/ept_tables.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "base/hex.h"

namespace pagesim::ept {

namespace {

namespace pte = paging::pte;

}  // namespace

EptTables::EptTables(const EptParams& params, mem::PhysicalMemory& memory,
                     mem::FrameAllocator& frames, stats::Group* parent)
    : m_format(params.format),
      m_levels(pte::checked_levels(params.levels, "ept.levels")),
      m_ad_bits(params.ad_bits),
      m_bits(format_bits(params.format)),
      m_memory(memory),
      m_frames(frames),
      m_stats(parent),
      m_root(new_table()) {}

std::uint64_t EptTables::eptp() const {
  return m_format == NestedFormat::kEpt ? make_eptp(m_root, m_levels, m_ad_bits) : m_root.value();
}

Hpa EptTables::new_table() {
  // Zeroed: all entries not present, also once frames are reused after reclaim.
  const Hpa table = m_frames.allocate_table();
  m_memory.zero_frame(table);
  ++m_stats.table_pages;
  return table;
}

std::uint64_t EptTables::leaf_entry(Hpa hpa, PageSize size, std::uint64_t rights) const {
  if (m_format == NestedFormat::kEpt) {
    return make_leaf_entry(hpa, size, rights);
  }
  // NPT: P and U/S always (R is required), R/W for W, XD without X.
  return pte::make_leaf_entry(hpa, size,
                              pte::kUser | ((rights & kWrite) != 0 ? pte::kRw : 0) |
                                  ((rights & kExecute) != 0 ? 0 : pte::kXd));
}

std::uint64_t EptTables::empty_subtree_tables(std::uint64_t table, unsigned level) const {
  std::uint64_t tables = 1;
  for (std::uint64_t i = 0; i < pte::kEntriesPerTable; ++i) {
    const std::uint64_t raw = m_memory.read_u64(Hpa(table | (i << 3)));
    if (!mapped(raw)) {
      continue;
    }
    if (is_leaf(raw, level)) {
      return 0;
    }
    const std::uint64_t below = empty_subtree_tables(raw & kAddressMask, level - 1);
    if (below == 0) {
      return 0;
    }
    tables += below;
  }
  return tables;
}

std::uint64_t EptTables::map(Gpa gpa, Hpa hpa, PageSize size, std::uint64_t rights) {
  if ((rights & kRead) == 0 || (rights & ~kRwx) != 0) {
    throw std::logic_error("ept map: rights " + hex(rights) + " at gpa " + hex(gpa.value()) +
                           " lack R or have bits other than R/W/X");
  }
  const unsigned shift = page_shift(size);
  if (gpa.page_offset(shift) != 0 || hpa.page_offset(shift) != 0) {
    throw std::logic_error("ept map: gpa " + hex(gpa.value()) + " or hpa " + hex(hpa.value()) +
                           " is not aligned to " + std::string(page_size_name(size)));
  }
  if (gpa.value() >= gpa_limit()) {
    throw std::logic_error("ept map: gpa " + hex(gpa.value()) + " is past the " +
                           std::to_string(m_levels) + "-level limit");
  }
  const unsigned leaf = leaf_level(size);
  std::uint64_t table = m_root.value();
  for (unsigned level = m_levels; level > leaf; --level) {
    const Hpa entry(table | pte::entry_offset(gpa.value(), level));
    const std::uint64_t raw = m_memory.read_u64(entry);
    if (!mapped(raw)) {
      const Hpa next = new_table();
      m_memory.write_u64(entry, make_table_entry(next, m_format));
      table = next.value();
      continue;
    }
    if (is_leaf(raw, level)) {
      throw std::logic_error("ept map: a " + std::string(page_size_name(size)) + " leaf at gpa " +
                             hex(gpa.value()) + " under an existing " +
                             std::string(page_size_name(pte::leaf_page_size(level))) + " leaf");
    }
    table = raw & kAddressMask;
  }
  const Hpa entry(table | pte::entry_offset(gpa.value(), leaf));
  const std::uint64_t raw = m_memory.read_u64(entry);
  std::uint64_t freed = 0;
  if (mapped(raw) && !is_leaf(raw, leaf)) {
    // KVM: the huge SPTE goes over the non-leaf one, handle_removed_pt frees the child.
    freed = empty_subtree_tables(raw & kAddressMask, leaf - 1);
    if (freed == 0) {
      throw std::logic_error("ept map: a " + std::string(page_size_name(size)) + " leaf at gpa " +
                             hex(gpa.value()) + " where a table still maps pages");
    }
    m_stats.tables_freed += freed;  // the frames stay allocated: no free list yet
  }
  m_memory.write_u64(entry, leaf_entry(hpa, size, rights));
  switch (size) {
    case PageSize::k4K:
      ++m_stats.installs_4k;
      break;
    case PageSize::k2M:
      ++m_stats.installs_2m;
      break;
    case PageSize::k1G:
      ++m_stats.installs_1g;
      break;
  }
  return freed;
}

template <class F>
void EptTables::visit_leaves(std::uint64_t table, unsigned level, std::uint64_t base,
                             std::uint64_t lo, std::uint64_t hi, F& f) {
  // The table at `level` covers [base, base + 512 * span); [lo, hi) intersects it.
  const unsigned shift = pte::index_shift(level);
  const std::uint64_t span = std::uint64_t{1} << shift;
  const std::uint64_t first = lo > base ? (lo - base) >> shift : 0;
  const std::uint64_t last =
      std::min<std::uint64_t>(pte::kEntriesPerTable - 1, (hi - 1 - base) >> shift);
  for (std::uint64_t i = first; i <= last; ++i) {
    const Hpa entry(table | (i << 3));
    const std::uint64_t raw = m_memory.read_u64(entry);
    if (!mapped(raw)) {
      continue;
    }
    if (is_leaf(raw, level)) {
      const std::uint64_t next = f(raw);
      if (next != raw) {
        m_memory.write_u64(entry, next);
      }
    } else {
      visit_leaves(raw & kAddressMask, level - 1, base + i * span, lo, hi, f);
    }
  }
}

bool EptTables::clip(Gpa first, std::uint64_t bytes, std::uint64_t& lo, std::uint64_t& hi) const {
  lo = first.value();
  if (bytes == 0 || lo >= gpa_limit()) {
    return false;
  }
  hi = bytes > gpa_limit() - lo ? gpa_limit() : lo + bytes;
  return true;
}

bool EptTables::maps_in(std::uint64_t table, unsigned level, std::uint64_t base, std::uint64_t lo,
                        std::uint64_t hi) const {
  const unsigned shift = pte::index_shift(level);
  const std::uint64_t span = std::uint64_t{1} << shift;
  const std::uint64_t first = lo > base ? (lo - base) >> shift : 0;
  const std::uint64_t last =
      std::min<std::uint64_t>(pte::kEntriesPerTable - 1, (hi - 1 - base) >> shift);
  for (std::uint64_t i = first; i <= last; ++i) {
    const std::uint64_t raw = m_memory.read_u64(Hpa(table | (i << 3)));
    if (!mapped(raw)) {
      continue;
    }
    if (is_leaf(raw, level) || maps_in(raw & kAddressMask, level - 1, base + i * span, lo, hi)) {
      return true;
    }
  }
  return false;
}

bool EptTables::maps_any(Gpa first, std::uint64_t bytes) const {
  const std::uint64_t lo = first.value();
  if (bytes == 0 || lo >= gpa_limit()) {
    return false;
  }
  const std::uint64_t hi = bytes > gpa_limit() - lo ? gpa_limit() : lo + bytes;
  return maps_in(m_root.value(), m_levels, 0, lo, hi);
}

std::uint64_t EptTables::unmap(Gpa first, std::uint64_t bytes, bool* dirty) {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  if (!clip(first, bytes, lo, hi)) {
    return 0;
  }
  std::uint64_t zapped = 0;
  const std::uint64_t dirty_mask =
      m_ad_bits ? m_bits.dirty : (m_format == NestedFormat::kEpt ? kWrite : pte::kRw);
  auto f = [&](std::uint64_t raw) -> std::uint64_t {
    ++zapped;  // access-tracked leaves too: they still map their frame
    if (tracked(raw)) {
      raw = restored(raw);  // the saved W tells whether it may be dirty
    }
    if (dirty != nullptr && (raw & dirty_mask) != 0) {
      *dirty = true;
    }
    return 0;
  };
  visit_leaves(m_root.value(), m_levels, 0, lo, hi, f);
  m_stats.zaps += zapped;
  return zapped;
}

EptTables::Aging EptTables::age(Gpa first, std::uint64_t bytes, bool clear) {
  Aging a;
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  if (!clip(first, bytes, lo, hi)) {
    return a;
  }
  auto f = [&](std::uint64_t raw) -> std::uint64_t {
    if (tracked(raw)) {
      return raw;  // not accessed since it was marked (is_accessed_spte)
    }
    if (!m_ad_bits) {
      a.young = true;
      if (clear) {
        ++a.tracked;
        return mark_tracked(raw);
      }
      return raw;
    }
    if ((raw & m_bits.accessed) == 0) {
      return raw;
    }
    a.young = true;
    return clear ? raw & ~m_bits.accessed : raw;
  };
  visit_leaves(m_root.value(), m_levels, 0, lo, hi, f);
  m_stats.access_tracked += a.tracked;
  return a;
}

void EptTables::for_each_leaf(const std::function<void(Gpa, const EptMapping&)>& f) const {
  // A software walk over every table (audits only).
  std::function<void(std::uint64_t, unsigned, std::uint64_t)> walk =
      [&](std::uint64_t table, unsigned level, std::uint64_t base) {
        const std::uint64_t span = std::uint64_t{1} << pte::index_shift(level);
        for (std::uint64_t i = 0; i < pte::kEntriesPerTable; ++i) {
          const std::uint64_t raw = m_memory.read_u64(Hpa(table | (i << 3)));
          if (!mapped(raw)) {
            continue;
          }
          if (is_leaf(raw, level)) {
            // An access-tracked leaf still holds its frame: the audit must see it.
            f(Gpa(base + i * span), mapping_of(tracked(raw) ? restored(raw) : raw, level));
          } else {
            walk(raw & kAddressMask, level - 1, base + i * span);
          }
        }
      };
  walk(m_root.value(), m_levels, 0);
}

EptMapping EptTables::mapping_of(std::uint64_t raw, unsigned level) const {
  EptMapping m;
  m.size = pte::leaf_page_size(level);
  m.page_base = Hpa(raw & pte::page_address_mask(m.size));
  m.accessed = (raw & m_bits.accessed) != 0;
  m.dirty = (raw & m_bits.dirty) != 0;
  if (m_format == NestedFormat::kEpt) {
    m.read = (raw & kRead) != 0;
    m.write = (raw & kWrite) != 0;
    m.execute = (raw & kExecute) != 0;
    m.memory_type = memory_type(raw);
  } else {
    m.read = true;
    m.write = (raw & pte::kRw) != 0;
    m.execute = (raw & pte::kXd) == 0;
  }
  return m;
}

std::optional<EptMapping> EptTables::lookup_debug(Gpa gpa, bool access_tracked) const {
  if (gpa.value() >= gpa_limit()) {
    return std::nullopt;
  }
  std::uint64_t table = m_root.value();
  for (unsigned level = m_levels; level >= 1; --level) {
    const std::uint64_t raw = m_memory.read_u64(Hpa(table | pte::entry_offset(gpa.value(), level)));
    if (!(access_tracked ? mapped(raw) : present(raw))) {
      return std::nullopt;
    }
    if (!is_leaf(raw, level)) {
      table = raw & kAddressMask;
      continue;
    }
    return mapping_of(tracked(raw) ? restored(raw) : raw, level);
  }
  return std::nullopt;  // not reached: level-1 entries are leaves
}

std::optional<EptMapping> EptTables::restore_access_tracked(Gpa gpa) {
  if (gpa.value() >= gpa_limit()) {
    return std::nullopt;
  }
  std::uint64_t table = m_root.value();
  for (unsigned level = m_levels; level >= 1; --level) {
    const Hpa entry(table | pte::entry_offset(gpa.value(), level));
    const std::uint64_t raw = m_memory.read_u64(entry);
    if (!mapped(raw)) {
      return std::nullopt;
    }
    if (!is_leaf(raw, level)) {
      table = raw & kAddressMask;
      continue;
    }
    if (!tracked(raw)) {
      return std::nullopt;
    }
    const std::uint64_t back = restored(raw);
    m_memory.write_u64(entry, back);
    ++m_stats.access_restored;
    return mapping_of(back, level);
  }
  return std::nullopt;
}

}  // namespace pagesim::ept
