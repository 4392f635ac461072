#include "models/cache/cache_hierarchy.h"

#include <bit>
#include <stdexcept>
#include <utility>

namespace pagesim::cache {
namespace {

std::uint64_t sets_of(const CacheLevelParams& p, std::uint32_t line_bytes) {
  const std::uint64_t per_set = std::uint64_t{line_bytes} * p.ways;
  if (per_set == 0 || p.size.bytes % per_set != 0) {
    throw std::invalid_argument(
        std::to_string(p.size.bytes) + " bytes is not a whole number of sets of " +
        std::to_string(p.ways) + " ways x " + std::to_string(line_bytes) + " bytes");
  }
  return p.sets(line_bytes);
}

}  // namespace

CacheLevel::CacheLevel(const CacheLevelParams& p, std::uint32_t line_bytes, bool enabled,
                       stats::Group* parent, std::string name)
    : m_stats(parent, std::move(name)),
      m_latency(p.latency),
      // A disabled hierarchy looks nothing up: a placeholder geometry, no storage.
      m_ways(enabled ? p.ways : 1),
      m_set_mask(enabled ? sets_of(p, line_bytes) - 1 : 0),
      m_set_words(m_ways + (m_ways + 7) / 8) {
  if (m_ways > 255) {
    throw std::invalid_argument(std::to_string(m_ways) + " ways: at most 255 are modelled");
  }
  if (((m_set_mask + 1) & m_set_mask) != 0) {
    throw std::invalid_argument(std::to_string(m_set_mask + 1) + " sets is not a power of two");
  }
  if (!enabled) {
    return;
  }
  m_storage.assign((m_set_mask + 1) * m_set_words, 0);
  for (std::uint64_t set = 0; set <= m_set_mask; ++set) {
    std::uint64_t* t = tags(set);
    std::uint8_t* r = ranks(set);
    for (std::uint32_t w = 0; w < m_ways; ++w) {
      t[w] = kInvalid;
      r[w] = static_cast<std::uint8_t>(w);
    }
  }
}

void CacheLevel::touch(std::uint64_t set, std::uint32_t way) {
  std::uint8_t* r = ranks(set);
  const std::uint8_t old = r[way];
  for (std::uint32_t w = 0; w < m_ways; ++w) {
    r[w] = static_cast<std::uint8_t>(r[w] + (r[w] < old ? 1 : 0));
  }
  r[way] = 0;
}

bool CacheLevel::lookup(std::uint64_t line) {
  const std::uint64_t set = line & m_set_mask;
  const std::uint64_t* t = tags(set);
  for (std::uint32_t w = 0; w < m_ways; ++w) {
    if (t[w] == line) {
      touch(set, w);
      ++m_stats.hits;
      return true;
    }
  }
  ++m_stats.misses;
  return false;
}

bool CacheLevel::contains(std::uint64_t line) const {
  const std::uint64_t* t = tags(line & m_set_mask);
  for (std::uint32_t w = 0; w < m_ways; ++w) {
    if (t[w] == line) {
      return true;
    }
  }
  return false;
}

void CacheLevel::fill(std::uint64_t line) {
  const std::uint64_t set = line & m_set_mask;
  const std::uint8_t* r = ranks(set);
  std::uint32_t victim = 0;
  for (std::uint32_t w = 0; w < m_ways; ++w) {
    if (r[w] == m_ways - 1) {
      victim = w;
    }
  }
  std::uint64_t* t = tags(set);
  if (t[victim] != kInvalid) {
    ++m_stats.evictions;
  }
  t[victim] = line;
  touch(set, victim);
}

CacheHierarchy::CacheHierarchy(const CacheParams& p, stats::Group* parent)
    : m_enabled(p.enabled),
      m_line_shift(static_cast<unsigned>(std::countr_zero(p.line_bytes))),
      m_dram_latency(p.llc.latency + p.dram.latency),
      m_l1(p.l1, p.line_bytes, p.enabled, parent, "cache.l1"),
      m_l2(p.l2, p.line_bytes, p.enabled, parent, "cache.l2"),
      m_llc(p.llc, p.line_bytes, p.enabled, parent, "cache.llc"),
      m_dram(parent, "cache.dram") {
  if (p.line_bytes == 0 || !std::has_single_bit(p.line_bytes)) {
    throw std::invalid_argument(std::to_string(p.line_bytes) +
                                " bytes is not a power-of-two line size");
  }
}

Cycles CacheHierarchy::access(Hpa hpa, bool /*write: timed as a read, see the header*/) {
  if (!m_enabled) {
    ++m_dram.accesses;
    return m_dram_latency;
  }
  const std::uint64_t line = hpa.value() >> m_line_shift;
  if (m_l1.lookup(line)) {
    return m_l1.latency();
  }
  if (m_l2.lookup(line)) {
    m_l1.fill(line);
    return m_l2.latency();
  }
  if (m_llc.lookup(line)) {
    m_l2.fill(line);
    m_l1.fill(line);
    return m_llc.latency();
  }
  ++m_dram.accesses;
  m_llc.fill(line);
  m_l2.fill(line);
  m_l1.fill(line);
  return m_dram_latency;
}

Cycles CacheHierarchy::probe(Hpa hpa) const {
  if (!m_enabled) {
    return m_dram_latency;
  }
  const std::uint64_t line = hpa.value() >> m_line_shift;
  if (m_l1.contains(line)) {
    return m_l1.latency();
  }
  if (m_l2.contains(line)) {
    return m_l2.latency();
  }
  if (m_llc.contains(line)) {
    return m_llc.latency();
  }
  return m_dram_latency;
}

}  // namespace pagesim::cache
