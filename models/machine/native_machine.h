// A native machine in plain C++: the page walker and the native OS over physical memory,
// with the loop a core runs on a TLB miss (touch()). The native sibling of NestedMachine
// and ShadowMachine; its SystemC shell is machine_module.h's NativeMachineModule.
//
//   PhysicalMemory: the caller's (the memory module's contents), os.memory bytes
//   FrameAllocator over os.memory, frames from 1 MiB (the first megabyte stays unused, as
//     on a PC: real-mode memory, BIOS areas)
//   Walker (stats "walker") over a MemoryTiming: the caller's (a cache model), or a fixed
//     latency per reference owned here
//   NativeOs (stats "os"): the demand-paging kernel
//
// CR3 is the machine's: load_cr3(asid) switches to the address space's root table
// (allocated on its first load, as the kernel builds an mm before it runs it), with
// CR4.PCIDE = 1 and the no-flush bit set, as Linux switches mm (the PCID is the asid).
//
// touch(gva, kind, pcid): walk from CR3; a walk that meets a non-present entry is a page
// fault: the OS maps the page and the access is retried, which walks again (a faulting
// walk caches nothing, SDM Vol. 3A 4.10.2.3). A second fault at the same address is a
// model error. The TLB is the caller's: touch() is the miss path.
#pragma once

#include <cstdint>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "base/stats/stats.h"
#include "base/translation.h"
#include "models/machine/machine.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/memory_timing.h"
#include "models/mem/physical_memory.h"
#include "models/os/native_os.h"
#include "models/os/os_params.h"
#include "models/walker/walker.h"
#include "models/walker/walker_params.h"

namespace pagesim::machine {

struct NativeMachineParams {
  walker::WalkerParams walker;  // walker.*: the paging-structure caches
  unsigned levels = 4;          // paging.levels: 4, or 5 with LA57
  os::OsParams os;              // os.*: the kernel, and the machine's memory (os.memory)
  unsigned cpus = 1;            // cores: each has its CR3 and paging-structure caches
  // Cycles per page-table reference when no MemoryTiming is given.
  Cycles memory_latency{100};
};

// What one touch() did.
struct NativeTouchResult {
  enum class Outcome : std::uint8_t { kOk };
  Outcome outcome = Outcome::kOk;
  Translation translation;  // GVA -> HPA
  walker::WalkResult walk;  // the last walk (the successful one)
  Cycles cycles;            // walks + the page fault, all of it
  Cycles walk_cycles;       // of which the walks' references
  unsigned walks = 0;       // walks made (1, or 2 after a page fault)
  unsigned page_faults = 0;
};

// Told each page fault of a touch() (--trace-page: the life of a page).
class NativeTouchObserver {
 public:
  virtual ~NativeTouchObserver() = default;
  // The walk met a non-present entry at `level`; the OS mapped the page in `cycles`.
  virtual void page_fault(unsigned level, Cycles cycles) = 0;
};

class NativeMachine final : public Machine {
 public:
  // The first byte the frame allocator hands out.
  static constexpr std::uint64_t kFirstFrameByte = kMiB;

  // Over the caller's `memory` (os.memory bytes), which must outlive the machine.
  // `timing`: the cost of each page-table reference (must outlive the machine); null: a
  // fixed params.memory_latency per reference. Statistics go under `parent`.
  NativeMachine(const NativeMachineParams& params, mem::PhysicalMemory& memory,
                mem::MemoryTiming* timing, stats::Group* parent);
  NativeMachine(const NativeMachine&) = delete;
  NativeMachine& operator=(const NativeMachine&) = delete;

  // MOV CR3 on the current core: the root of address space `asid` (see the file comment);
  // returns it.
  Hpa load_cr3(std::uint16_t asid) {
    m_cr3 = m_os.address_space_root(asid);
    m_cpu_asid[m_cpu] = asid;
    return m_cr3;
  }
  Hpa cr3() const { return m_cr3; }

  // The miss path for `gva` in the address space CR3 points to, PCID `pcid` (its asid):
  // see the file comment.
  NativeTouchResult touch(Gva gva, AccessKind kind, std::uint16_t pcid = 0,
                          NativeTouchObserver* observer = nullptr);

  // A hint that touch(next) and then touch(after) come soon: their walks' cold entries
  // start loading (Walker::prefetch; no effect on the model).
  void prefetch(Gva next, Gva after) const { m_walker.prefetch(next, after); }

  // The walk of `gva` from CR3 with no side effects (--check, tests).
  std::optional<Translation> translate_debug(Gva gva) const {
    return m_walker.translate_debug(m_cr3, gva);
  }

  // Machine: the OS's events, !cr3, !invlpg, !ptewrite and !exit; no memslots.
  bool models(GuestEvent::Kind kind) const override {
    return kind != GuestEvent::Kind::kMemslotAdd && kind != GuestEvent::Kind::kMemslotDelete &&
           kind != GuestEvent::Kind::kMemslotMove;
  }
  // Machine: CR3 loads the address space's root; INVLPG reaches the walker's
  // paging-structure caches; a PTE write is the OS's; teardown destroys the address space,
  // drops its walker-cache entries and answers the flush of its PCID (Linux flushes it
  // before another mm uses it), reloading CR3 when it was the current one.
  EventResult handle(const GuestEvent& event) override;
  // Machine: the OS's paging, no VPID.
  ProcessorView processor() const override {
    return {.mode = "native",
            .levels = m_params.levels,
            .levels_key = "paging.levels",
            .vpid = 0,
            .events_taken = "!cr3, !invlpg, !ptewrite, !exit and !cpu",
            .cpus = static_cast<unsigned>(m_cpu_asid.size()),
            .cpus_key = "the key cores",
            .host_cpus = 0,  // cores: nothing preempts one
            .pv_tlb_flush = false,
            .preempted_ipi_wait = Cycles()};
  }
  // Machine: at power-on, every core's CR3 points to address space 0.
  void power_on() override { (void)load_cr3(0); }
  // Machine: the records that follow run on core `cpu`: its CR3 (the root of its address
  // space, made afresh if that was torn down meanwhile) and its paging-structure caches.
  void switch_cpu(unsigned cpu) override;
  // Machine: no host.
  HostView host_view() override { return {}; }
  // Machine: no host, so no requests.
  VcpuRequests take_requests() override { return {}; }
  // Machine (--check): the walk from CR3 (`pcid` is CR3's address space); the walker's
  // cached frames.
  CheckReference reference_translation(Gva gva, std::uint16_t pcid,
                                       const Translation& got) override;
  std::string audit_free_frames(const mem::FrameAllocator& frames, const std::string& of) override;

  const NativeMachineParams& params() const { return m_params; }
  mem::PhysicalMemory& memory() { return m_memory; }
  mem::FrameAllocator& frames() { return m_frames; }
  walker::Walker& walker() { return m_walker; }
  os::NativeOs& os() { return m_os; }

 private:
  NativeMachineParams m_params;
  mem::PhysicalMemory& m_memory;
  mem::FixedLatency m_fixed;
  mem::MemoryTiming& m_timing;
  mem::FrameAllocator m_frames;
  walker::Walker m_walker;
  os::NativeOs m_os;
  Hpa m_cr3;                              // the current core's
  std::vector<std::uint16_t> m_cpu_asid;  // each core's address space (CR3)
  unsigned m_cpu = 0;
};

}  // namespace pagesim::machine
