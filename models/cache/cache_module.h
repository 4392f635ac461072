// SystemC shell of page-table memory: PhysicalMemory (contents) behind the cache-latency
// model (timing). Here, beside the cache model, since memory (models/mem) knows no caches.
//
// The walker reaches it two ways, both fetched once at elaboration:
// - contents(): entry contents read and written straight in PhysicalMemory (the DMI role);
// - timing_export: one direct call per page-table reference that returns its latency in
//   cycles (the cache model). A TLM transaction per reference cost about 350 host
//   instructions per access of socket plumbing and time conversion (measured with
//   callgrind), as much as the cache model itself; the direct call costs a few. The
//   walker annotates the summed latency of a whole walk on its own b_transport's delay.
#pragma once

#include <systemc>

#include "models/cache/cache_hierarchy.h"
#include "models/mem/memory_timing.h"
#include "models/mem/physical_memory.h"
#include "models/mem/timing_if.h"

namespace pagesim::cache {

class CacheModule final : public sc_core::sc_module, public mem::TimingIf {
 public:
  sc_core::sc_export<mem::TimingIf> timing_export{"timing_export"};

  // `huge_bytes`: the prefix of memory advised huge pages (PhysicalMemory): all of it by
  // default.
  CacheModule(sc_core::sc_module_name name, std::uint64_t size_bytes,
              const CacheParams& cache_params, stats::Group* stats_parent,
              std::uint64_t huge_bytes = ~std::uint64_t{0})
      : sc_core::sc_module(name),
        m_memory(size_bytes, huge_bytes),
        m_caches(cache_params, stats_parent) {
    timing_export.bind(*this);
  }

  mem::PhysicalMemory& contents() { return m_memory; }
  CacheHierarchy& caches() { return m_caches; }
  mem::MemoryTiming& timing() override { return m_caches; }

 private:
  mem::PhysicalMemory m_memory;
  CacheHierarchy m_caches;
};

}  // namespace pagesim::cache
