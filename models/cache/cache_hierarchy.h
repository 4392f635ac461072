// The cache-latency model that page-table references go through: L1D, L2 and LLC of one
// core, then DRAM. By default it models only the lines the page walker touches (issue 2: "a
// set-associative model of the lines the walker touches"): the trace's own data accesses do
// not pass through it, so they neither hit nor evict here, walker lines see no pollution
// from the workload's data, and hit rates are an upper bound on a real core's. With
// cache.data (issue 22) every data access goes through it as well (access_data: the line
// of its first byte, served, filled and timed like a page-table reference), so the walker's
// loads of paging-structure entries (ordinary write-back memory) compete with the
// workload's data for the same caches, as on hardware. Data references are counted apart
// (cache.data.*); their latency is not added to sim.cycles (the core model charges
// core.cycles_per_access per access and does not model what an out-of-order core hides).
//
// What is modelled
// - Three set-associative levels, each with true LRU (set_assoc.h, shared with the TLBs),
//   geometry from CacheParams: sets = size / (line_bytes * ways), a power of two; set
//   index = (hpa / line_bytes) mod sets; tags are whole line numbers.
// - access(): an L1 hit costs l1.latency; else an L2 hit costs l2.latency; else an LLC hit
//   costs llc.latency; else llc.latency + dram.latency. Latencies are load-to-use of the
//   level that hits, not sums. Every level that missed is filled with the line
//   (non-inclusive: no back-invalidation when an outer level evicts, no write-back when an
//   inner one does).
// - write = true is an accessed/dirty-bit update of a paging-structure entry (SDM 4.8). The
//   walker makes it on the line it has just read, as a locked read-modify-write; it is
//   timed and filled exactly as a read, and no dirty state or write-back is kept.
// - enabled = false: nothing is cached, every access costs llc.latency + dram.latency and
//   counts as a DRAM access (the levels' hit and miss counters stay at zero).
// - No MSHRs, no bandwidth, no prefetchers, no coherence: one reference at a time, and the
//   walker sums or overlaps the latencies it gets.
//
// Units: addresses are Hpa (bytes), latencies core cycles. Statistics: groups "cache.l1",
// "cache.l2", "cache.llc" (hits, misses, evictions) and "cache.dram" (accesses) under the
// parent. No allocation after construction.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/address.h"
#include "base/cycles.h"
#include "base/stats/stats.h"
#include "models/cache/cache_params.h"
#include "models/mem/huge_pages.h"
#include "models/mem/memory_timing.h"

namespace pagesim::cache {

struct CacheLevelStats : stats::Group {
  using Group::Group;
  stats::Counter hits{*this, "hits", "page-table references that found their line here"};
  stats::Counter misses{*this, "misses", "page-table references passed to the next level"};
  stats::Counter evictions{*this, "evictions", "valid lines replaced by a fill"};
};

struct DramStats : stats::Group {
  using Group::Group;
  stats::Counter accesses{*this, "accesses", "page-table references that missed the LLC"};
};

// cache.data: the trace's data references, counted apart from the page-table references
// (the levels' hits and misses count page-table references only).
struct DataStats : stats::Group {
  using Group::Group;
  stats::Counter accesses{*this, "accesses", "data accesses (one line each: the first byte's)"};
  stats::Counter l1_hits{*this, "l1_hits", "data accesses served by the L1"};
  stats::Counter l2_hits{*this, "l2_hits", "data accesses served by the L2"};
  stats::Counter llc_hits{*this, "llc_hits", "data accesses served by the LLC"};
  stats::Counter dram{*this, "dram", "data accesses that missed the LLC"};
  stats::Counter cycles{*this, "cycles",
                        "load-to-use latencies of the data accesses (not in sim.cycles)"};
};

// One set-associative level of line tags.
class CacheLevel {
 public:
  CacheLevel(const CacheLevelParams& p, std::uint32_t line_bytes, bool enabled,
             stats::Group* parent, std::string name);

  // One reference to the line, in one pass over its set: a hit (true) makes it the most
  // recently used; a miss (false) fills it as the most recently used, into an empty way,
  // else over the LRU victim (counted as an eviction), as a lookup and then a fill would.
  // kCount: counts the hit or the miss (a page-table reference); without, only the
  // eviction (a data reference, counted in DataStats).
  template <bool kCount>
  bool access(std::uint64_t line);
  bool contains(std::uint64_t line) const;
  Cycles latency() const { return m_latency; }
  const CacheLevelStats& stats() const { return m_stats; }
  // A hint that the line's set is looked up soon (no effect on the model): its first and
  // last way (an L2 set of 16 ways is 128 bytes, two host cache lines). Always inline: GCC
  // takes a function whose only effect is a prefetch for one without effects, and drops
  // the calls to it that it has not inlined first.
  [[gnu::always_inline]] void prefetch_set(std::uint64_t line) const {
    const std::uint64_t* lines = set_lines(line & m_set_mask);
    __builtin_prefetch(lines);
    __builtin_prefetch(lines + m_ways - 1);
  }

 private:
  static constexpr std::uint64_t kInvalid = ~std::uint64_t{0};  // no line number is all ones

  // A set is `ways` line numbers kept in recency order: way 0 the most recently used, the
  // last way the LRU victim (exact true LRU). A hit at position k moves the line to the
  // front (k moves); a miss shifts the whole set down by one and drops the last line, in
  // the same pass that looked for it.
  // Empty ways (kInvalid) sit at the back, so a fill takes an empty way before it evicts.
  // Page-table references mostly hit near the front, so the common case touches one host
  // cache line and a handful of words.
  std::uint64_t* set_lines(std::uint64_t set) { return &m_lines[set * m_ways]; }
  const std::uint64_t* set_lines(std::uint64_t set) const { return &m_lines[set * m_ways]; }

  CacheLevelStats m_stats;
  Cycles m_latency;
  std::uint32_t m_ways;
  std::uint64_t m_set_mask;
  mem::HugeVector<std::uint64_t> m_lines;  // sets x ways, set-major
};

class CacheHierarchy final : public mem::MemoryTiming {
 public:
  CacheHierarchy(const CacheParams& p, stats::Group* parent);
  CacheHierarchy(const CacheHierarchy&) = delete;
  CacheHierarchy& operator=(const CacheHierarchy&) = delete;

  // Where a reference was served: the level whose latency it costs.
  enum class Level : std::uint8_t { kL1, kL2, kLlc, kDram };

  // One page-table reference (write: an A/D-bit update, timed as a read): its latency in
  // cycles; fills the levels it missed and counts hits, misses and DRAM accesses. Inline:
  // the walkers call it directly (reference_timing.h).
  Cycles access(Hpa hpa, bool write) override { return latency(serve(hpa, write)); }
  // The same reference, answering with the level that served it (latency(level) cycles).
  // Inline too (below), with the cascade over the levels.
  Level serve(Hpa hpa, bool write);
  Cycles latency(Level level) const { return m_latencies[static_cast<unsigned>(level)]; }
  // The latency access() would return, with no side effects.
  Cycles probe(Hpa hpa) const;
  // A hint that `hpa` is referenced soon (no effect on the model): the host lines of its
  // LLC set start loading (the LLC's tags are megabytes; the L1's and L2's mostly stay in
  // the host's caches).
  [[gnu::always_inline]] void prefetch(Hpa hpa) const {  // always inline: prefetch_set
    if (m_enabled) {
      m_llc.prefetch_set(hpa.value() >> m_line_shift);
    }
  }
  // cache.data: one data access (the line of `hpa`): served, filled and timed as a
  // page-table reference, counted in cache.data.*; its latency. Only with cache.data.
  Cycles access_data(Hpa hpa);
  // cache.data: `n` more data accesses to the line the last access_data served, which is
  // the most recently used of its L1 set while nothing else touched the caches: L1 hits.
  void repeat_data_l1_hits(std::uint64_t n) {
    m_data->accesses += n;
    m_data->l1_hits += n;
    m_data->cycles += n * m_l1.latency().count();
  }
  bool data_enabled() const { return m_data != nullptr; }

  const CacheLevel& l1() const { return m_l1; }
  const CacheLevel& l2() const { return m_l2; }
  const CacheLevel& llc() const { return m_llc; }
  const DramStats& dram_stats() const { return m_dram; }

 private:
  bool m_enabled;
  unsigned m_line_shift;
  Cycles m_dram_latency;  // llc.latency + dram.latency: the cost of an LLC miss
  CacheLevel m_l1;
  CacheLevel m_l2;
  CacheLevel m_llc;
  DramStats m_dram;
  // By Level: the L1's, L2's and LLC's latencies and m_dram_latency.
  std::array<Cycles, 4> m_latencies;
  std::unique_ptr<DataStats> m_data;  // cache.data only (no statistics rows without it)

  // The cascade of one enabled reference to `line`: the level that serves it; every level
  // that missed is filled. kData: counted by the caller in DataStats, not the levels' stats.
  template <bool kData>
  Level serve_line(std::uint64_t line);
};

// The hot path of a reference, inline: the walkers call it directly (reference_timing.h).

template <bool kCount>
inline bool CacheLevel::access(std::uint64_t line) {
  std::uint64_t* lines = set_lines(line & m_set_mask);
  // Each way takes the line of the way before it, the first the referenced line, until the
  // line is found (the ways before it moved down by one: move to the front) or the last way
  // has taken its place (everything moved down, the last line dropped: a fill).
  std::uint64_t carried = line;
  for (std::uint32_t w = 0; w < m_ways; ++w) {
    const std::uint64_t here = lines[w];
    lines[w] = carried;
    if (here == line) {
      if constexpr (kCount) {
        ++m_stats.hits;
      }
      return true;
    }
    carried = here;
  }
  if constexpr (kCount) {
    ++m_stats.misses;
  }
  if (carried != kInvalid) {  // the LRU victim dropped
    ++m_stats.evictions;
  }
  return false;
}

inline CacheHierarchy::Level CacheHierarchy::serve(Hpa hpa, bool /*write: timed as a read*/) {
  if (!m_enabled) {
    ++m_dram.accesses;
    return Level::kDram;
  }
  const Level level = serve_line<false>(hpa.value() >> m_line_shift);
  if (level == Level::kDram) {
    ++m_dram.accesses;
  }
  return level;
}

template <bool kData>
inline CacheHierarchy::Level CacheHierarchy::serve_line(std::uint64_t line) {
  // A page-table reference counts the levels' hits and misses; a data reference counts in
  // DataStats instead. Each level that misses is filled as it is looked up (the levels are
  // independent: filling the L1 before the L2 is looked up leaves what filling it after
  // would).
  // The three sets are independent host loads: start the outer two while the L1's is
  // scanned (a walk's reference misses the L1 often, and the LLC's tags are megabytes).
  m_l2.prefetch_set(line);
  m_llc.prefetch_set(line);
  if (m_l1.access<!kData>(line)) {
    return Level::kL1;
  }
  if (m_l2.access<!kData>(line)) {
    return Level::kL2;
  }
  if (m_llc.access<!kData>(line)) {
    return Level::kLlc;
  }
  return Level::kDram;
}

}  // namespace pagesim::cache
