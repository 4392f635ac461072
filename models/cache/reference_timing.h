// How a walker times its page-table references: the MemoryTiming it was given, called
// directly when that is the cache model.
//
// The walkers take any mem::MemoryTiming (the cache model in a simulation; a FixedLatency in
// the machines and walkers built without one: tests, benches). A virtual call per reference
// reaches either; for the cache model, which every simulation has, ReferenceTiming looks it
// up once, at construction, and then calls CacheHierarchy::access without a virtual call
// (CacheHierarchy is final and its access inline). Same latencies, same statistics: only
// the dispatch differs.
#pragma once

#include "base/address.h"
#include "base/cycles.h"
#include "models/cache/cache_hierarchy.h"
#include "models/mem/memory_timing.h"

namespace pagesim::cache {

class ReferenceTiming {
 public:
  // `timing` must outlive this object.
  explicit ReferenceTiming(mem::MemoryTiming& timing)
      : m_caches(dynamic_cast<CacheHierarchy*>(&timing)), m_timing(timing) {}

  // The latency of one page-table reference (a read: the walkers charge their A/D updates
  // nothing), its effects on the caches and their statistics included.
  Cycles read(Hpa hpa) {
    return m_caches != nullptr ? m_caches->access(hpa, false) : m_timing.access(hpa, false);
  }
  // A hint that `hpa` is read soon: the cache model's sets start loading (no effect on the
  // model; nothing without the cache model).
  [[gnu::always_inline]] void prefetch(Hpa hpa) const {  // (cache_hierarchy.h: prefetch_set)
    if (m_caches != nullptr) {
      m_caches->prefetch(hpa);
    }
  }

 private:
  CacheHierarchy* m_caches;  // null when `timing` is not the cache model
  mem::MemoryTiming& m_timing;
};

}  // namespace pagesim::cache
