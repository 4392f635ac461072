// SystemC shell of the page walker.
//
//   core --b_transport(gp + TranslationExt)--> translate socket
//   walker --timing_port: a direct call per page-table reference--> memory (cache model)
//   walker --direct reads of PhysicalMemory--> entry contents (the DMI role)
//
// The walk itself is the plain Walker; this shell hands it the memory module's timing
// (fetched once at end_of_elaboration) and annotates the walk's latency on the caller's
// delay. It never waits: loosely timed, the core's quantum keeper synchronises.
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <systemc>
#include <tlm>

#include "base/tlm/cycle_clock.h"
#include "base/tlm/translation_ext.h"
#include "models/mem/timing_if.h"
#include "models/walker/walker.h"

namespace pagesim::walker {

// Control of the walker outside a translation: invalidations (INVLPG and friends).
class WalkerControlIf : public virtual sc_core::sc_interface {
 public:
  virtual Walker& walker() = 0;
};

class WalkerModule final : public sc_core::sc_module,
                           public WalkerControlIf,
                           public DirectTranslateIf,
                           private mem::MemoryTiming {
 public:
  tlm_utils::simple_target_socket<WalkerModule> translate_socket{"translate_socket"};
  sc_core::sc_port<mem::TimingIf> timing_port{"timing_port"};
  sc_core::sc_export<WalkerControlIf> control_export{"control_export"};

  WalkerModule(sc_core::sc_module_name name, const WalkerParams& params, unsigned levels,
               mem::PhysicalMemory& memory, const CycleClock& clock, stats::Group* stats_parent);

  Walker& walker() override { return m_walker; }
  // One walk for the request in ext; its result in ext (b_transport's work, called directly
  // by the core).
  void translate(TranslationExt& ext) override;

 private:
  void end_of_elaboration() override { m_timing = &timing_port->timing(); }
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  // MemoryTiming: the memory module's timing, one direct call per page-table reference.
  Cycles access(Hpa hpa, bool write) override { return m_timing->access(hpa, write); }

  const CycleClock& m_clock;
  mem::MemoryTiming* m_timing = nullptr;
  Walker m_walker;
};

}  // namespace pagesim::walker
