#include "models/walker/walker_module.h"

#include <stdexcept>

namespace pagesim::walker {

WalkerModule::WalkerModule(sc_core::sc_module_name name, const WalkerParams& params,
                           unsigned levels, mem::PhysicalMemory& memory, const CycleClock& clock,
                           stats::Group* stats_parent)
    : sc_core::sc_module(name),
      m_memory(memory),
      m_clock(clock),
      m_walker(params, levels, memory, *this, stats_parent) {
  translate_socket.register_b_transport(this, &WalkerModule::b_transport);
  m_ref.set_data_ptr(reinterpret_cast<unsigned char*>(&m_ref_data));
  m_ref.set_data_length(8);
  m_ref.set_streaming_width(8);
  m_ref.set_byte_enable_ptr(nullptr);
  m_ref.set_dmi_allowed(false);
}

void WalkerModule::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  auto* ext = gp.get_extension<TranslationExt>();
  if (ext == nullptr) {
    gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  WalkResult r = m_walker.walk({ext->root, ext->gva, ext->kind, ext->pcid});
  ext->outcome = r.outcome == WalkResult::Outcome::kOk ? TranslationExt::Outcome::kOk
                                                       : TranslationExt::Outcome::kPageFault;
  ext->translation = r.translation;
  ext->fault_level = r.fault_level;
  ext->refs = r.refs;
  ext->cycles = r.cycles;
  delay += m_clock.to_time(r.cycles);
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

Cycles WalkerModule::access(Hpa hpa, bool write) {
  // The walker has already read (or, for an A/D update, written) the entry in memory; the
  // transaction carries the entry's current value so the write is idempotent.
  m_ref_data = m_memory.read_u64(hpa);
  m_ref.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  m_ref.set_address(hpa.value());
  m_ref.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  memory_socket->b_transport(m_ref, delay);
  if (m_ref.is_response_error()) {
    throw std::logic_error("page-table reference outside physical memory at byte " +
                           std::to_string(hpa.value()));
  }
  return m_clock.to_cycles(delay);
}

}  // namespace pagesim::walker
