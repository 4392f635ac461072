// SystemC shell of the page walker.
//
//   core --b_transport(gp + TranslationExt)--> translate socket
//   walker --b_transport per page-table reference (8 bytes)--> memory socket (timing)
//   walker --direct reads of PhysicalMemory--> entry contents (the DMI role)
//
// The walk itself is the plain Walker; this shell adapts its MemoryTiming to one timing
// transaction per reference and annotates the walk's latency on the caller's delay. It
// never waits: loosely timed, the core's quantum keeper synchronises.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <systemc>
#include <tlm>

#include "models/walker/walker.h"
#include "sim/time.h"
#include "sim/translation_ext.h"

namespace pagesim::walker {

class WalkerModule final : public sc_core::sc_module, private mem::MemoryTiming {
 public:
  tlm_utils::simple_target_socket<WalkerModule> translate_socket{"translate_socket"};
  tlm_utils::simple_initiator_socket<WalkerModule> memory_socket{"memory_socket"};

  WalkerModule(sc_core::sc_module_name name, const WalkerParams& params, unsigned levels,
               mem::PhysicalMemory& memory, const CycleClock& clock, stats::Group* stats_parent);

  Walker& walker() { return m_walker; }

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  // MemoryTiming: one timing transaction per page-table reference.
  Cycles access(Hpa hpa, bool write) override;

  mem::PhysicalMemory& m_memory;
  const CycleClock& m_clock;
  Walker m_walker;
  tlm::tlm_generic_payload m_ref;  // reused for every reference
  std::uint64_t m_ref_data = 0;
};

}  // namespace pagesim::walker
