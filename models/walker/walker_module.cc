#include "models/walker/walker_module.h"

#include <stdexcept>

namespace pagesim::walker {

WalkerModule::WalkerModule(sc_core::sc_module_name name, const WalkerParams& params,
                           unsigned levels, mem::PhysicalMemory& memory, const CycleClock& clock,
                           stats::Group* stats_parent)
    : sc_core::sc_module(name),
      m_clock(clock),
      m_walker(params, levels, memory, *this, stats_parent) {
  translate_socket.register_b_transport(this, &WalkerModule::b_transport);
  control_export.bind(*this);
}

void WalkerModule::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  auto* ext = gp.get_extension<TranslationExt>();
  if (ext == nullptr) {
    gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  translate(*ext);
  delay += m_clock.to_time(ext->cycles);
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

void WalkerModule::translate(TranslationExt& ext) {
  WalkResult r = m_walker.walk({ext.root, ext.gva, ext.kind, ext.pcid});
  ext.outcome = r.outcome == WalkResult::Outcome::kOk ? TranslationExt::Outcome::kOk
                                                      : TranslationExt::Outcome::kPageFault;
  ext.translation = r.translation;
  ext.fault_level = r.fault_level;
  ext.refs = r.refs;
  ext.cycles = r.cycles;
}

}  // namespace pagesim::walker
