#include "models/shadow/shadow_translator_module.h"

namespace pagesim::shadow {

ShadowTranslatorModule::ShadowTranslatorModule(sc_core::sc_module_name name,
                                               const ShadowMachineParams& params,
                                               mem::PhysicalMemory& memory, const CycleClock& clock,
                                               stats::Group* stats_parent)
    : sc_core::sc_module(name), m_clock(clock), m_machine(params, memory, this, stats_parent) {
  translate_socket.register_b_transport(this, &ShadowTranslatorModule::b_transport);
  control_export.bind(*this);
}

void ShadowTranslatorModule::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  auto* ext = gp.get_extension<TranslationExt>();
  if (ext == nullptr) {
    gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  const TouchResult t =
      m_machine.touch(ext->gva, ext->kind, ext->pcid, ext->traced ? m_observer : nullptr);
  ext->outcome = t.outcome == TouchResult::Outcome::kOk ? TranslationExt::Outcome::kOk
                                                        : TranslationExt::Outcome::kMmio;
  ext->translation = t.translation;
  ext->fault_level = 0;
  ext->refs = t.walk.refs;
  ext->cycles = t.cycles;
  ext->fault_cycles = t.cycles - t.walk_cycles;
  ext->flush = t.flush;
  delay += m_clock.to_time(t.cycles);
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace pagesim::shadow
