// SystemC shell of page-table memory: PhysicalMemory (contents) behind the cache-latency
// model (timing). A b_transport of 8 bytes reads or writes one page-table entry and
// annotates the latency of its line: L1, L2, LLC or DRAM.
//
// The walker reads entry contents straight from PhysicalMemory (the DMI role: contents()
// hands out the object once at elaboration) and sends one timing transaction per
// reference; transport_dbg reads contents with no timing and no cache fill.
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <array>
#include <systemc>
#include <tlm>

#include "models/cache/cache_hierarchy.h"
#include "models/mem/physical_memory.h"
#include "sim/time.h"

namespace pagesim::mem {

class MemoryModule final : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<MemoryModule> socket{"socket"};

  MemoryModule(sc_core::sc_module_name name, std::uint64_t size_bytes,
               const cache::CacheParams& cache_params, const CycleClock& clock,
               stats::Group* stats_parent);

  PhysicalMemory& contents() { return m_memory; }
  cache::CacheHierarchy& caches() { return m_caches; }

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  unsigned transport_dbg(tlm::tlm_generic_payload& gp);

  PhysicalMemory m_memory;
  cache::CacheHierarchy m_caches;
  // The latency of each cache level as SystemC time, converted once at construction:
  // a reference adds one of these to its delay (no conversion per reference).
  std::array<sc_core::sc_time, 4> m_level_delay;
};

}  // namespace pagesim::mem
