#include "sim/top.h"

namespace pagesim {

// The first megabyte stays unused, as on a PC (real-mode memory, BIOS areas).
constexpr std::uint64_t kFirstFrameByte = 1 * kMiB;

Top::Top(sc_core::sc_module_name name, const SimParams& params, traces::TraceReader& trace,
         std::function<void(std::uint64_t)> progress)
    : sc_core::sc_module(name),
      m_params(params),
      m_clock(params.core.frequency_ghz),
      m_frames(params.os.memory.bytes, kFirstFrameByte),
      m_memory("memory", params.os.memory.bytes, params.cache, &m_stats_root),
      m_tlb("tlb", params.tlb, params.seed, &m_stats_root),
      m_walker("walker", params.walker, params.paging.levels, m_memory.contents(), m_clock,
               &m_stats_root),
      m_os("os", params.os, params.paging.levels, m_memory.contents(), m_frames, &m_stats_root),
      m_core("core", params, m_clock, trace, &m_stats_root, std::move(progress)) {
  m_core.tlb_port.bind(m_tlb.tlb_export);
  m_core.os_port.bind(m_os.os_export);
  m_core.walker_socket.bind(m_walker.translate_socket);
  m_core.walker_port.bind(m_walker.control_export);
  m_walker.timing_port.bind(m_memory.timing_export);
}

}  // namespace pagesim
