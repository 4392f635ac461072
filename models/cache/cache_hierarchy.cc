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
      m_set_mask(enabled ? sets_of(p, line_bytes) - 1 : 0) {
  if (((m_set_mask + 1) & m_set_mask) != 0) {
    throw std::invalid_argument(std::to_string(m_set_mask + 1) + " sets is not a power of two");
  }
  if (enabled) {
    m_lines.assign((m_set_mask + 1) * m_ways, kInvalid);
  }
}

bool CacheLevel::contains(std::uint64_t line) const {
  const std::uint64_t* lines = set_lines(line & m_set_mask);
  for (std::uint32_t w = 0; w < m_ways; ++w) {
    if (lines[w] == line) {
      return true;
    }
  }
  return false;
}

CacheHierarchy::CacheHierarchy(const CacheParams& p, stats::Group* parent)
    : m_enabled(p.enabled),
      m_line_shift(static_cast<unsigned>(std::countr_zero(p.line_bytes))),
      m_dram_latency(p.llc.latency + p.dram.latency),
      m_l1(p.l1, p.line_bytes, p.enabled, parent, "cache.l1"),
      m_l2(p.l2, p.line_bytes, p.enabled, parent, "cache.l2"),
      m_llc(p.llc, p.line_bytes, p.enabled, parent, "cache.llc"),
      m_dram(parent, "cache.dram"),
      m_latencies{p.l1.latency, p.l2.latency, p.llc.latency, m_dram_latency},
      m_data(p.data ? std::make_unique<DataStats>(parent, "cache.data") : nullptr) {
  if (p.line_bytes == 0 || !std::has_single_bit(p.line_bytes)) {
    throw std::invalid_argument(std::to_string(p.line_bytes) +
                                " bytes is not a power-of-two line size");
  }
}

Cycles CacheHierarchy::access_data(Hpa hpa) {
  ++m_data->accesses;
  const Level level = m_enabled ? serve_line<true>(hpa.value() >> m_line_shift) : Level::kDram;
  switch (level) {
    case Level::kL1:
      ++m_data->l1_hits;
      break;
    case Level::kL2:
      ++m_data->l2_hits;
      break;
    case Level::kLlc:
      ++m_data->llc_hits;
      break;
    case Level::kDram:
      ++m_data->dram;
      break;
  }
  const Cycles cost = latency(level);
  m_data->cycles += cost.count();
  return cost;
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
