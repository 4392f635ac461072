#include "models/walker/page_walk_cache.h"

#include <stdexcept>
#include <string>

namespace pagesim::walker {

WalkCache::WalkCache(std::uint32_t entries, std::uint32_t ways, const char* what) : m_ways(ways) {
  if (entries == 0) {
    m_ways = 1;
    return;
  }
  const std::uint32_t sets = ways == 0 ? 0 : entries / ways;
  if (ways == 0 || entries % ways != 0 || sets == 0 || (sets & (sets - 1)) != 0) {
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(entries) +
                                " entries in " + std::to_string(ways) +
                                " ways do not make a power-of-two number of sets");
  }
  m_set_mask = sets - 1;
  m_entries.resize(entries);
}

void WalkCache::invalidate_all() {
  for (Entry& e : m_entries) {
    e = Entry{};
  }
}

void WalkCache::invalidate_context(std::uint64_t mask, std::uint64_t want) {
  for (Entry& e : m_entries) {
    if ((e.tag & kValid) != 0 && (e.context & mask) == want) {
      e = Entry{};
    }
  }
}

void WalkCache::invalidate_key(std::uint64_t key, std::uint64_t context) {
  if (!enabled()) {
    return;
  }
  Entry* set = &m_entries[(key & m_set_mask) * m_ways];
  for (std::uint32_t w = 0; w < m_ways; ++w) {
    if (set[w].tag == (kValid | key) && set[w].context == context) {
      set[w] = Entry{};
    }
  }
}

std::uint32_t WalkCache::valid_entries() const {
  std::uint32_t n = 0;
  for (const Entry& e : m_entries) {
    n += (e.tag & kValid) != 0 ? 1 : 0;
  }
  return n;
}

}  // namespace pagesim::walker
