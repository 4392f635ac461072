#include "models/machine/native_machine.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace pagesim::machine {

NativeMachine::NativeMachine(const NativeMachineParams& params, mem::PhysicalMemory& memory,
                             mem::MemoryTiming* timing, stats::Group* parent)
    : m_params(params),
      m_memory(memory),
      m_fixed(params.memory_latency),
      m_timing(timing != nullptr ? *timing : static_cast<mem::MemoryTiming&>(m_fixed)),
      m_frames(params.os.memory.bytes, kFirstFrameByte),
      m_walker(params.walker, params.levels, memory, m_timing, parent),
      m_os(params.os, params.levels, memory, m_frames, parent),
      m_cpu_asid(std::max(params.cpus, 1u), 0) {
  if (params.cpus > 1) {
    m_walker.set_cpus(params.cpus);
  }
}

void NativeMachine::switch_cpu(unsigned cpu) {
  if (cpu == m_cpu) {
    return;
  }
  if (cpu >= m_cpu_asid.size()) {
    throw std::out_of_range("native machine: core " + std::to_string(cpu) + " of " +
                            std::to_string(m_cpu_asid.size()));
  }
  m_cpu = cpu;
  m_walker.switch_cpu(cpu);
  m_cr3 = m_os.address_space_root(m_cpu_asid[cpu]);
}

NativeTouchResult NativeMachine::touch(Gva gva, AccessKind kind, std::uint16_t pcid,
                                       NativeTouchObserver* observer) {
  NativeTouchResult t;
  for (unsigned attempt = 0;; ++attempt) {
    t.walk = m_walker.walk({m_cr3, gva, kind, pcid});
    ++t.walks;
    t.walk_cycles += t.walk.cycles;
    t.cycles += t.walk.cycles;
    if (t.walk.outcome == walker::WalkResult::Outcome::kOk) {
      t.translation = t.walk.translation;
      return t;
    }
    if (attempt > 0) {
      throw std::logic_error("page fault at the same address after the OS mapped it");
    }
    const Cycles fault = m_os.handle_page_fault(pcid, gva, kind);
    ++t.page_faults;
    t.cycles += fault;
    if (observer != nullptr) {
      observer->page_fault(t.walk.fault_level, fault);
    }
  }
}

EventResult NativeMachine::handle(const GuestEvent& event) {
  EventResult r;
  switch (event.kind) {
    case GuestEvent::Kind::kCr3:
      load_cr3(event.pcid);
      if (event.flush) {
        m_walker.invalidate_pcid(event.pcid);
      }
      break;
    case GuestEvent::Kind::kInvlpg:
      m_walker.invalidate_page(event.gva, event.pcid);
      break;
    case GuestEvent::Kind::kPteUnmap:
      (void)m_os.unmap(event.pcid, event.gva);
      break;
    case GuestEvent::Kind::kPteRemap:
      (void)m_os.remap(event.pcid, event.gva);
      break;
    case GuestEvent::Kind::kExit:
      // Every core's entries of the PCID go (Linux flushes it on each CPU before another mm
      // uses it); a core whose CR3 was this address space finds a fresh one under the same id
      // at its next record (switch_cpu).
      r.flush = TlbFlush::one_pcid(event.asid);
      m_os.destroy_address_space(event.asid);
      m_walker.invalidate_pcid_every_cpu(event.asid);  // one core: its own caches
      if (event.asid == event.pcid) {
        load_cr3(event.pcid);  // a fresh address space under the same id
      }
      break;
    case GuestEvent::Kind::kMemslotAdd:
    case GuestEvent::Kind::kMemslotDelete:
    case GuestEvent::Kind::kMemslotMove:
      throw std::logic_error("native machine: no memslots (models() says so)");
  }
  return r;
}

CheckReference NativeMachine::reference_translation(Gva gva, std::uint16_t /*pcid*/,
                                                    const Translation& /*got*/) {
  return {.want = translate_debug(gva), .narrower_rights = false};
}

std::string NativeMachine::audit_free_frames(const mem::FrameAllocator& frames,
                                             const std::string& of) {
  std::string why;
  m_walker.for_each_cached_hpa([&](Hpa frame, const char* structure) {
    note_free_frame(why, frames, frame, std::string("the ") + structure + of);
  });
  return why;
}

}  // namespace pagesim::machine
