// The top of the SystemC tree for native mode:
//
//   core --tlb_port--> tlb (L1i, L1d, STLB)
//   core --walker_socket--> walker --timing_port--> memory (caches + physical memory)
//   core --os_port--> os (page-fault handler; page tables in memory)
//
// Module names are the statistics' and configuration's words: tlb.*, walker.*, os.*,
// cache.* (inside memory), sim.* (the core).
#pragma once

#include <functional>
#include <memory>
#include <systemc>

#include "models/mem/frame_allocator.h"
#include "models/mem/memory_module.h"
#include "models/os/os_module.h"
#include "models/tlb/tlb_module.h"
#include "models/walker/walker_module.h"
#include "sim/core_module.h"
#include "sim/sim_params.h"
#include "sim/stats/stats.h"
#include "sim/time.h"

namespace pagesim {

class Top final : public sc_core::sc_module {
 public:
  Top(sc_core::sc_module_name name, const SimParams& params, traces::TraceReader& trace,
      std::function<void(std::uint64_t)> progress);

  stats::Group& stats_root() { return m_stats_root; }
  CoreModule& core() { return m_core; }

 private:
  const SimParams& m_params;
  CycleClock m_clock;
  stats::Group m_stats_root{nullptr, ""};
  mem::FrameAllocator m_frames;
  mem::MemoryModule m_memory;
  tlb::TlbModule m_tlb;
  walker::WalkerModule m_walker;
  os::OsModule m_os;
  CoreModule m_core;
};

}  // namespace pagesim
