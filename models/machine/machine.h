// The interface the core sees of a whole machine (NativeMachine, NestedMachine,
// ShadowMachine) outside a translation: the guest's events, the host's requests and what
// --check asks of it, so that the core does not branch on the mode for them. The miss path is not
// here: the machine's SystemC shell (machine_module.h) calls each machine's own touch() directly,
// with no virtual call per miss.
//
// Lifecycle: the core takes each VM's machine from its control port at
// end_of_elaboration and asks it
//   host_view: what the host-side events act on (none: no host, the events refused);
//   models / handle: for each trace event the guest (or its VMM) makes (!cr3, !invlpg,
//     !ptewrite, !exit, !memslot), whether the machine models it, then its work (the OS's,
//     the walker's caches, KVM's); the core keeps the architecture's part (the address
//     space's PCID, INVLPG's TLB entries) and applies the flush the machine answers;
//   take_requests: after a host-side event, and for the other VMs after host work
//     (their shootdowns), what the host asked of the vCPU;
//   reference_translation: for every translation a TLB hit or a walk returned (sim.check);
//   audit_free_frames: after the host invalidated something (reclaim, madvise, balloon),
//     whether a structure of the machine's still refers to a freed host frame.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/address.h"
#include "base/cycles.h"
#include "base/hex.h"
#include "base/tlb_flush.h"
#include "base/translation.h"
#include "models/host/host_params.h"
#include "models/host/qemu_layout.h"
#include "models/mem/frame_allocator.h"

namespace pagesim::hostmm {
class HostMm;
class VmmMemory;
}  // namespace pagesim::hostmm
namespace pagesim::host {
class MemslotTable;
}  // namespace pagesim::host

namespace pagesim::machine {

// What sim.check compares a cached translation with (base/translation_check.h).
struct CheckReference {
  std::optional<Translation> want;  // a walk from scratch of the current tables; none: unmapped
  bool narrower_rights = false;     // the cached entry may allow less than `want` (shadow)
};

// What the host asked of a vCPU since the last take, as KVM's vCPU requests
// (KVM_REQ_TLB_FLUSH from kvm_flush_remote_tlbs) and the shootdown IPIs' cost.
struct VcpuRequests {
  TlbFlush flush;  // what the vCPU's TLBs must drop (the machine's own caches are flushed)
  Cycles owed;     // the cycles the host's shootdowns cost the vCPU
};

// A trace event of the guest (or of the VMM, for memslots), as the machine sees it.
struct GuestEvent {
  enum class Kind : std::uint8_t {
    kCr3,            // MOV CR3 to address space `pcid` (PCIDs, the no-flush bit set)
    kInvlpg,         // INVLPG `gva` in address space `pcid`
    kPteUnmap,       // the guest kernel clears the PTE of `gva` in address space `pcid`
    kPteRemap,       // the guest kernel maps `gva` again in address space `pcid`
    kExit,           // address space `asid` is torn down (`pcid`: the current one)
    kMemslotAdd,     // KVM_SET_USER_MEMORY_REGION: slot `slot` at `gpa`, `bytes`, `readonly`
    kMemslotDelete,  // slot `slot` deleted
    kMemslotMove,    // slot `slot` moved to `gpa`
  };
  Kind kind = Kind::kCr3;
  std::uint16_t pcid = 0;   // the current address space (kCr3: the one switched to)
  std::uint16_t asid = 0;   // kExit
  Gva gva;                  // kInvlpg, kPteUnmap, kPteRemap
  std::uint32_t slot = 0;   // kMemslot*
  Gpa gpa;                  // kMemslotAdd: the base; kMemslotMove: the new base
  std::uint64_t bytes = 0;  // kMemslotAdd
  bool readonly = false;    // kMemslotAdd
  // kCr3: MOV CR3 with the no-flush bit clear: the PCID's TLB and paging-structure-cache
  // entries go (SDM Vol. 3A 4.10.4.1). Linux sets it when the address space changed while
  // this CPU was away (switch_mm_irqs_off: its tlb_gen is behind the mm's).
  bool flush = false;
};

// What a guest event asks of the core: its cycles (VM exits: sim.event_cycles), the TLB
// flush to apply (after INVLPG's own), then the host's requests during it (as
// take_requests), and for a memslot deleted or moved the GPA range zapped (--trace-page).
struct EventResult {
  Cycles cycles;
  TlbFlush flush;
  VcpuRequests requests;
  std::optional<host::GpaRange> zapped;
};

// What the host-side events (!madvise, !balloon) act on: the VM's VMM memory, the host's
// memory manager (shared by the VMs), the memslots and the guest kernel's frames. All null
// for a machine with no host (native), which refuses those events.
struct HostView {
  hostmm::VmmMemory* vmm = nullptr;
  hostmm::HostMm* mm = nullptr;
  const host::MemslotTable* slots = nullptr;
  mem::GuestFrameAllocator* guest_frames = nullptr;
};

// What the core needs to know of the machine's processor: the paging its accesses go
// through and the tag its TLB entries carry.
struct ProcessorView {
  std::string_view mode;          // the config's mode (native, nested, shadow): for messages
  unsigned levels = 4;            // paging levels of the linear addresses the trace holds
  std::string_view levels_key;    // the config key that sets them (paging.levels, guest.levels)
  std::uint16_t vpid = 0;         // the VPID the TLB entries carry (0: no VM)
  std::string_view events_taken;  // the trace events the mode takes, for the refusal's message
  unsigned cpus = 1;              // the CPUs (cores, or the VM's vCPUs) whose records it runs
  std::string_view cpus_key;      // what sets them, for the refusal of a `!cpu` past them
  // The host CPUs the CPUs run on (vm.pcpus); 0: one each, none is ever preempted. With fewer,
  // the host runs the `host_cpus` CPUs that ran records most recently; the others are
  // preempted.
  unsigned host_cpus = 0;
  // A shootdown flags a preempted target in place of an IPI (vm.pv_tlb_flush: Linux's
  // kvm_flush_tlb_multi); the machine flushes it when it runs again (flush_tlb_guest).
  bool pv_tlb_flush = false;
  // What an IPI to a preempted target costs the sender beyond the handler, without the PV
  // flush (vm.preempted_ipi_wait).
  Cycles preempted_ipi_wait;
};

// A guest's processor (nested, shadow): the guest's paging, the VM's VPID, every trace event
// KVM's machines take, vm.vcpus CPUs.
inline ProcessorView guest_processor(std::string_view mode, unsigned levels, std::uint16_t vpid,
                                     const host::VmParams& vm) {
  return {
      .mode = mode,
      .levels = levels,
      .levels_key = "guest.levels",
      .vpid = vpid,
      .events_taken = "!cr3, !invlpg, !ptewrite, !exit, !memslot, !madvise, !balloon, !vm and !cpu",
      .cpus = vm.vcpus,
      .cpus_key = "the key vm.vcpus",
      .host_cpus = vm.pcpus,
      .pv_tlb_flush = vm.pv_tlb_flush,
      .preempted_ipi_wait = vm.preempted_ipi_wait};
}

// The VM exits a guest's IPIs took (the sender's ICR writes, or PV hypercalls), and the
// cycles they cost the sender beyond the IPIs themselves.
struct IpiExits {
  std::uint64_t exits = 0;
  Cycles cycles;
};

class Machine {
 public:
  // The processor's side of the machine (see ProcessorView).
  virtual ProcessorView processor() const = 0;
  // The state at power-on, before the first record: the address space 0 loaded (CR3).
  virtual void power_on() {}
  // The records that follow run on CPU `cpu` (< processor().cpus): its per-CPU state (CR3,
  // the walker's caches) becomes current. Events and translations act on the current CPU;
  // what reaches every CPU says so.
  virtual void switch_cpu(unsigned /*cpu*/) {}
  // A TLB shootdown: the current CPU sends IPIs to `targets` other CPUs (Linux's
  // flush_tlb_multi). What the sending took beyond the IPIs' own cost: a guest's VM exits.
  // Native: none.
  virtual IpiExits send_ipis(unsigned /*targets*/) { return {}; }
  // The current CPU runs again after a shootdown flagged it while it was preempted (the PV
  // TLB flush): KVM_REQ_TLB_FLUSH_GUEST at its entry (record_steal_time ->
  // kvm_vcpu_flush_tlb_guest). The machine flushes its caches of that CPU; the core drops
  // every TLB entry of the CPU (the VPID's). The answer's flush is what else KVM flushed, as
  // handle()'s (everything: every vCPU). Native: nothing (no host preempts a core).
  virtual EventResult flush_tlb_guest() { return {}; }
  // The host under the machine (see HostView).
  virtual HostView host_view() = 0;
  // Whether the machine models the event (the core refuses the others).
  virtual bool models(GuestEvent::Kind kind) const = 0;
  // The machine's part of a modelled event; throws std::invalid_argument for a bad one (a
  // memslot that overlaps another, say).
  virtual EventResult handle(const GuestEvent& event) = 0;
  // The host's requests since the last take (the host's work during an event, or during
  // another VM's work): taken once.
  virtual VcpuRequests take_requests() = 0;
  // The translation of `gva` in address space `pcid` that `got`, a TLB's or the walk's
  // answer, must agree with: a walk from scratch of the tables the hardware walks now.
  virtual CheckReference reference_translation(Gva gva, std::uint16_t pcid,
                                               const Translation& got) = 0;
  // After the host invalidated something: the first structure of the machine's (the
  // walker's caches, the EPT's or the shadow tables' leaves) that refers to a free frame of
  // `frames`, as "<structure><of> ... refers to <hpa>, a free host frame" (`of`: " of VM i",
  // or empty); empty when none does.
  virtual std::string audit_free_frames(const mem::FrameAllocator& frames,
                                        const std::string& of) = 0;

 protected:
  Machine() = default;
  Machine(const Machine&) = default;
  Machine& operator=(const Machine&) = default;
  ~Machine() = default;
};

// Sets `why`, when still empty, to say that `what` refers to `frame` if it is free in
// `frames` (the audits' one sentence).
inline void note_free_frame(std::string& why, const mem::FrameAllocator& frames, Hpa frame,
                            const std::string& what) {
  if (why.empty() && frames.is_free(frame)) {
    why = what + " refers to " + hex(frame.value()) + ", a free host frame";
  }
}

}  // namespace pagesim::machine
