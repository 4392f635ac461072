// SystemC shell of the shadow-paged machine (mode=shadow): what sits behind the core's
// walker socket when KVM runs the guest on shadow page tables.
//
//   core --b_transport(gp + TranslationExt)--> translate_socket
//   translator --timing_port: a direct call per shadow-table reference--> memory (caches)
//   core --control_export--> the machine (CR3 writes, INVLPG, PTE writes, teardown,
//                            memslot changes, --check)
//
// One b_transport resolves a TLB miss whole (ShadowMachine::touch: the hardware walk of the
// shadow table, shadow page faults, guest page faults, the retries) and annotates its
// cycles on the caller's delay; the TranslationExt carries back the TLB flush the core must
// apply before filling. Loosely timed: it never waits.
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <systemc>
#include <tlm>

#include "models/mem/memory_module.h"
#include "models/shadow/shadow_machine.h"
#include "sim/time.h"
#include "sim/translation_ext.h"

namespace pagesim::shadow {

// Control of the machine outside a translation.
class ShadowControlIf : public virtual sc_core::sc_interface {
 public:
  virtual ShadowMachine& machine() = 0;
  // The observer told the steps of traced translations (--trace-page); null: none.
  virtual void set_observer(TouchObserver* observer) = 0;
};

class ShadowTranslatorModule final : public sc_core::sc_module,
                                     public ShadowControlIf,
                                     private mem::MemoryTiming {
 public:
  tlm_utils::simple_target_socket<ShadowTranslatorModule> translate_socket{"translate_socket"};
  sc_core::sc_port<mem::TimingIf> timing_port{"timing_port"};
  sc_core::sc_export<ShadowControlIf> control_export{"control_export"};

  // Statistics of the machine (guest, host, shadow, vmexits, walker) go under
  // `stats_parent`.
  ShadowTranslatorModule(sc_core::sc_module_name name, const ShadowMachineParams& params,
                         mem::PhysicalMemory& memory, const CycleClock& clock,
                         stats::Group* stats_parent);

  ShadowMachine& machine() override { return m_machine; }
  void set_observer(TouchObserver* observer) override { m_observer = observer; }

 private:
  void end_of_elaboration() override { m_timing = &timing_port->timing(); }
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  // MemoryTiming: the memory module's timing, one direct call per shadow-table reference.
  Cycles access(Hpa hpa, bool write) override { return m_timing->access(hpa, write); }

  const CycleClock& m_clock;
  mem::MemoryTiming* m_timing = nullptr;
  TouchObserver* m_observer = nullptr;
  ShadowMachine m_machine;
};

}  // namespace pagesim::shadow
