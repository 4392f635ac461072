// SystemC shell of the nested machine (mode=nested): what sits behind the core's walker
// socket when a guest runs on a host.
//
//   core --b_transport(gp + TranslationExt)--> translate_socket
//   translator --timing_port: a direct call per page-table reference--> memory (caches)
//   core --control_export--> the machine (events: INVLPG, memslot changes, --check)
//
// One b_transport resolves a TLB miss whole (NestedMachine::touch: the 2D walk, guest page
// faults through the guest kernel, EPT violations through the hypervisor, the retries) and
// annotates its cycles on the caller's delay. It never waits: loosely timed, the core's
// quantum keeper synchronises. Host memory (contents) is the memory module's, advised huge
// pages for NestedMachine::huge_page_bytes() of it.
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <systemc>
#include <tlm>

#include "models/host/nested_machine.h"
#include "models/mem/memory_module.h"
#include "sim/time.h"
#include "sim/translation_ext.h"

namespace pagesim::host {

// Control of the machine outside a translation.
class NestedControlIf : public virtual sc_core::sc_interface {
 public:
  virtual NestedMachine& machine() = 0;
  // The observer told the steps of traced translations (--trace-page); null: none.
  virtual void set_observer(TouchObserver* observer) = 0;
};

class NestedTranslatorModule final : public sc_core::sc_module,
                                     public NestedControlIf,
                                     private mem::MemoryTiming {
 public:
  tlm_utils::simple_target_socket<NestedTranslatorModule> translate_socket{"translate_socket"};
  sc_core::sc_port<mem::TimingIf> timing_port{"timing_port"};
  sc_core::sc_export<NestedControlIf> control_export{"control_export"};

  // Statistics of the machine (guest, host, ept, vmexits, walker) go under `stats_parent`.
  NestedTranslatorModule(sc_core::sc_module_name name, const NestedMachineParams& params,
                         mem::PhysicalMemory& memory, const CycleClock& clock,
                         stats::Group* stats_parent);

  NestedMachine& machine() override { return m_machine; }
  void set_observer(TouchObserver* observer) override { m_observer = observer; }

 private:
  void end_of_elaboration() override { m_timing = &timing_port->timing(); }
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  // MemoryTiming: the memory module's timing, one direct call per page-table reference.
  Cycles access(Hpa hpa, bool write) override { return m_timing->access(hpa, write); }

  const CycleClock& m_clock;
  mem::MemoryTiming* m_timing = nullptr;
  TouchObserver* m_observer = nullptr;
  NestedMachine m_machine;
};

}  // namespace pagesim::host
