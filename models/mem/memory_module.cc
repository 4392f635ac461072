#include "models/mem/memory_module.h"

#include <cstring>

namespace pagesim::mem {

MemoryModule::MemoryModule(sc_core::sc_module_name name, std::uint64_t size_bytes,
                           const cache::CacheParams& cache_params, const CycleClock& clock,
                           stats::Group* stats_parent)
    : sc_core::sc_module(name), m_memory(size_bytes), m_caches(cache_params, stats_parent) {
  for (auto level : {cache::CacheHierarchy::Level::kL1, cache::CacheHierarchy::Level::kL2,
                     cache::CacheHierarchy::Level::kLlc, cache::CacheHierarchy::Level::kDram}) {
    m_level_delay[static_cast<std::size_t>(level)] = clock.to_time(m_caches.latency(level));
  }
  socket.register_b_transport(this, &MemoryModule::b_transport);
  socket.register_transport_dbg(this, &MemoryModule::transport_dbg);
}

void MemoryModule::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  const std::uint64_t addr = gp.get_address();
  if (gp.get_data_length() != 8 || (addr & 7) != 0 || addr >= m_memory.size_bytes()) {
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  const bool write = gp.is_write();
  std::uint64_t value = 0;
  if (write) {
    std::memcpy(&value, gp.get_data_ptr(), 8);
    m_memory.write_u64(Hpa(addr), value);
  } else {
    value = m_memory.read_u64(Hpa(addr));
    std::memcpy(gp.get_data_ptr(), &value, 8);
  }
  delay += m_level_delay[static_cast<std::size_t>(m_caches.serve(Hpa(addr), write))];
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

unsigned MemoryModule::transport_dbg(tlm::tlm_generic_payload& gp) {
  const std::uint64_t addr = gp.get_address();
  if (gp.get_data_length() != 8 || (addr & 7) != 0 || addr >= m_memory.size_bytes()) {
    return 0;
  }
  if (gp.is_write()) {
    std::uint64_t value = 0;
    std::memcpy(&value, gp.get_data_ptr(), 8);
    m_memory.write_u64(Hpa(addr), value);
  } else {
    std::uint64_t value = m_memory.read_u64(Hpa(addr));
    std::memcpy(gp.get_data_ptr(), &value, 8);
  }
  return 8;
}

}  // namespace pagesim::mem
