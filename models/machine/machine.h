// The interface the core sees of a whole machine (NativeMachine, NestedMachine,
// ShadowMachine) outside a translation: the host's requests and what --check asks of it,
// so that the core does not branch on the mode for them. The miss path is not here: the machine's
// SystemC shell (machine_module.h) calls each machine's own touch() directly, with no virtual call
// per miss.
//
// Lifecycle: the core takes each VM's machine from its control port at
// end_of_elaboration and asks it
//   take_requests: after a host-side event, and for the other VMs after host work
//     (their shootdowns), what the host asked of the vCPU;
//   reference_translation: for every translation a TLB hit or a walk returned (sim.check);
//   audit_free_frames: after the host invalidated something (reclaim, madvise, balloon),
//     whether a structure of the machine's still refers to a freed host frame.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/address.h"
#include "base/cycles.h"
#include "base/hex.h"
#include "base/tlb_flush.h"
#include "base/translation.h"
#include "models/mem/frame_allocator.h"

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

class Machine {
 public:
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
