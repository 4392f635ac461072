#include "models/walker/paging_structure_cache.h"

#include <stdexcept>
#include <string>

namespace pagesim::walker {

PagingStructureCache::PagingStructureCache(const PscParams& params, unsigned level,
                                           unsigned la_bits)
    : m_level(level),
      m_shift(pte::index_shift(level)),
      m_la_mask((std::uint64_t{1} << la_bits) - 1),
      m_set_mask(kDisabled),
      m_ways(params.ways) {
  if (level < pte::kPd || level > pte::kPml5 || (la_bits != 48 && la_bits != 57)) {
    throw std::invalid_argument("paging-structure cache: level " + std::to_string(level) +
                                " with " + std::to_string(la_bits) + "-bit linear addresses");
  }
  if (params.entries == 0) {
    return;
  }
  const std::uint32_t sets = params.ways == 0 ? 0 : params.entries / params.ways;
  if (params.ways == 0 || params.entries % params.ways != 0 || (sets & (sets - 1)) != 0) {
    throw std::invalid_argument("paging-structure cache: " + std::to_string(params.entries) +
                                " entries in " + std::to_string(params.ways) +
                                " ways do not make a power-of-two number of sets");
  }
  m_set_mask = sets - 1;
  m_entries.resize(params.entries);
  if (m_ways <= kMaxOrderedWays) {
    m_used = ~std::uint64_t{0} >> (64 - 4 * m_ways);
    m_order.resize(sets);
  } else {
    m_stamps.resize(params.entries);
  }
  reorder_after_invalidation();  // every way invalid: ways - 1 .. 0
}

void PagingStructureCache::reorder_after_invalidation() {
  if (m_used == 0) {
    for (std::size_t i = 0; i < m_entries.size(); ++i) {
      m_stamps[i] = m_entries[i].tag != 0 ? m_stamps[i] : 0;
    }
    return;
  }
  for (std::size_t set = 0; set < m_order.size(); ++set) {
    const Entry* ways = &m_entries[set * m_ways];
    std::uint64_t order = ~m_used;  // unused positions hold 0xf
    unsigned pos = 0;
    for (std::uint32_t i = 0; i < m_ways; ++i) {  // the valid ways, most recent first
      const std::uint32_t way = static_cast<std::uint32_t>(m_order[set] >> (4 * i)) & 0xf;
      if (ways[way].tag != 0) {
        order = (order & ~(std::uint64_t{0xf} << (4 * pos))) | (std::uint64_t{way} << (4 * pos));
        ++pos;
      }
    }
    for (std::uint32_t way = m_ways; way-- > 0;) {  // then the invalid ones, highest first
      if (ways[way].tag == 0) {
        order = (order & ~(std::uint64_t{0xf} << (4 * pos))) | (std::uint64_t{way} << (4 * pos));
        ++pos;
      }
    }
    m_order[set] = order;
  }
}

void PagingStructureCache::invalidate_all() {
  for (Entry& e : m_entries) {
    e = Entry{};
  }
  reorder_after_invalidation();
}

void PagingStructureCache::invalidate_pcid(std::uint16_t pcid) {
  constexpr std::uint64_t kPcidMask = std::uint64_t{0xffff} << kPcidShift;
  const std::uint64_t want = kValid | (std::uint64_t{pcid} << kPcidShift);
  for (Entry& e : m_entries) {
    if ((e.tag & (kValid | kPcidMask)) == want) {
      e = Entry{};
    }
  }
  reorder_after_invalidation();
}

std::uint32_t PagingStructureCache::valid_entries() const {
  std::uint32_t n = 0;
  for (const Entry& e : m_entries) {
    n += (e.tag & kValid) != 0 ? 1 : 0;
  }
  return n;
}

}  // namespace pagesim::walker
