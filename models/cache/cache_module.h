// SystemC shell of page-table memory: PhysicalMemory (contents) behind the cache-latency
// model (timing). Here, beside the cache model, since memory (models/mem) knows no caches.
//
// The walkers reach both directly, handed to the machine module's constructor by the top
// (sim/top.cc):
// - contents(): entry contents read and written straight in PhysicalMemory (the DMI role);
// - caches(): the cache model, one direct call per page-table reference that returns its
//   latency in cycles (models/cache/reference_timing.h). A TLM transaction per reference
//   cost about 350 host instructions per access of socket plumbing and time conversion
//   (measured with callgrind), as much as the cache model itself; a port and a forwarding
//   MemoryTiming after it, two virtual calls and a thunk per reference, 41 of rand1g's
//   1,935 per access natively and 90 of 3,701 nested; the direct call none of them. The
//   machine annotates the summed latency of a whole TLB miss on its own b_transport's
//   delay.
#pragma once

#include <systemc>

#include "models/cache/cache_hierarchy.h"
#include "models/mem/physical_memory.h"

namespace pagesim::cache {

class CacheModule final : public sc_core::sc_module {
 public:
  // `huge_bytes`: the prefix of memory advised huge pages (PhysicalMemory): all of it by
  // default.
  CacheModule(sc_core::sc_module_name name, std::uint64_t size_bytes,
              const CacheParams& cache_params, stats::Group* stats_parent,
              std::uint64_t huge_bytes = ~std::uint64_t{0})
      : sc_core::sc_module(name),
        m_memory(size_bytes, huge_bytes),
        m_caches(cache_params, stats_parent) {}

  mem::PhysicalMemory& contents() { return m_memory; }
  CacheHierarchy& caches() { return m_caches; }

 private:
  mem::PhysicalMemory m_memory;
  CacheHierarchy m_caches;
};

}  // namespace pagesim::cache
