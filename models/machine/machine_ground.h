// What a whole virtual machine in plain C++ (host::NestedMachine, shadow::ShadowMachine)
// stands on, built before its own parts: its statistics root, the host's memory, the host
// (hostmm/host.h: the machine's own, or shared by several VMs) and the cost of a
// page-table reference. Both machines derive from it privately and construct it first.
#pragma once

#include <cstdint>
#include <memory>

#include "base/cycles.h"
#include "base/stats/stats.h"
#include "models/hostmm/host.h"
#include "models/hostmm/reclaim_params.h"
#include "models/mem/memory_timing.h"
#include "models/mem/physical_memory.h"

namespace pagesim::machine {

class MachineGround {
 protected:
  // `own` or `memory`: the host memory the machine owns, or the caller's (ignored when
  // `host` is given: the shared host's). `host` null: a host of the machine's own over
  // `memory_bytes` with `reclaim`. `timing` null: a fixed `memory_latency` per reference.
  // `parent` null: a statistics root of the machine's own.
  MachineGround(const hostmm::ReclaimParams& reclaim, std::uint64_t memory_bytes,
                Cycles memory_latency, std::unique_ptr<mem::PhysicalMemory> own,
                mem::PhysicalMemory* memory, hostmm::Host* host, mem::MemoryTiming* timing,
                stats::Group* parent)
      : m_own_stats(parent == nullptr ? std::make_unique<stats::Group>(nullptr, "") : nullptr),
        m_stats(parent != nullptr ? parent : m_own_stats.get()),
        m_own_memory(std::move(own)),
        m_memory(host != nullptr     ? host->memory()
                 : memory != nullptr ? *memory
                                     : *m_own_memory),
        m_own_host(host != nullptr
                       ? nullptr
                       : std::make_unique<hostmm::Host>(reclaim, memory_bytes, m_memory, m_stats)),
        m_host(host != nullptr ? *host : *m_own_host),
        m_fixed(memory_latency),
        m_timing(timing != nullptr ? *timing : static_cast<mem::MemoryTiming&>(m_fixed)) {}
  MachineGround(const MachineGround&) = delete;
  MachineGround& operator=(const MachineGround&) = delete;
  ~MachineGround() = default;

  std::unique_ptr<stats::Group> m_own_stats;
  stats::Group* m_stats;
  std::unique_ptr<mem::PhysicalMemory> m_own_memory;
  mem::PhysicalMemory& m_memory;
  std::unique_ptr<hostmm::Host> m_own_host;
  hostmm::Host& m_host;
  mem::FixedLatency m_fixed;
  mem::MemoryTiming& m_timing;
};

}  // namespace pagesim::machine
