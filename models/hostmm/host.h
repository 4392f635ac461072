// The host as the VMs on it share it: its frames (FrameAllocator over host.memory, frames
// from 1 MiB) and its memory manager (HostMm: LRU lists, reclaim, swap; stats "host",
// "mmu_notifier", "tlb" under the given group). One VM's machine owns one of its own; with
// `vms` > 1 the SystemC shell builds one and every machine attaches its VMM process to it
// (HostMm::attach gives each its owner index, the i of its "vm<i>" statistics).
//
// host.load's pages are taken here, once per host, before any VM runs.
#pragma once

#include <cstdint>

#include "base/address.h"
#include "base/stats/stats.h"
#include "models/hostmm/host_mm.h"
#include "models/hostmm/reclaim_params.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/physical_memory.h"

namespace pagesim::hostmm {

class Host {
 public:
  // `memory` (host.memory bytes) must outlive this; statistics go under `stats_parent`.
  Host(const ReclaimParams& reclaim, std::uint64_t memory_bytes, mem::PhysicalMemory& memory,
       stats::Group* stats_parent)
      : m_memory(memory),
        m_stats_parent(stats_parent),
        m_frames(memory_bytes, kMiB),
        m_mm(reclaim, memory_bytes, memory, m_frames, stats_parent) {
    m_frames.set_memory_key("host.memory");  // named when the frames run out
    if (reclaim.load.bytes != 0) {
      m_mm.take_load(reclaim.load.bytes);
    }
  }
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  mem::PhysicalMemory& memory() { return m_memory; }
  mem::FrameAllocator& frames() { return m_frames; }
  HostMm& mm() { return m_mm; }
  // Where the host's statistics are, and each VM's "vm<i>" reclaim counters.
  stats::Group* stats_parent() { return m_stats_parent; }

 private:
  mem::PhysicalMemory& m_memory;
  stats::Group* m_stats_parent;
  mem::FrameAllocator m_frames;
  HostMm m_mm;
};

}  // namespace pagesim::hostmm
