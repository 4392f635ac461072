// The one TLM extension of the translation path: what the core asks the walker, and what
// the walk answered. Owned by the core, which reuses one payload and one extension for
// every miss (no heap per access).
#pragma once

#include <tlm>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "base/tlb_flush.h"
#include "base/translation.h"

namespace pagesim {

struct TranslationExt : tlm::tlm_extension<TranslationExt> {
  // Request. CR3 (native) or the guest's CR3 of address space `pcid` is the machine's.
  Gva gva;
  AccessKind kind = AccessKind::kRead;
  std::uint16_t pcid = 0;
  std::uint16_t vpid = 0;
  std::uint16_t vm = 0;  // nested, shadow: the VM whose vCPU asks (vms > 1)
  bool traced = false;   // the page --trace-page follows: the translator reports its steps
  // Result. The machine resolves the miss whole (page faults, guest faults, EPT violations
  // or shadow page faults, retries): kOk, or kMmio when the GPA is in no memslot (the
  // access was emulated; nothing to put in the TLB).
  enum class Outcome : std::uint8_t { kOk, kMmio } outcome = Outcome::kOk;
  Translation translation;
  unsigned refs = 0;       // page-table references the last walk made
  Cycles cycles{0};        // everything the translation cost: walks, faults, VM exits
  Cycles fault_cycles{0};  // of which page faults (native, guest) and VM exits
  // shadow: what the TLBs must drop before the translation is filled (KVM's flush requests)
  TlbFlush flush;

  tlm::tlm_extension_base* clone() const override { return new TranslationExt(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const TranslationExt&>(other);
  }
};

// The translator behind the core's walker socket, called directly: exactly what its
// b_transport does with the payload's TranslationExt, without the payload (DMI for
// translations, STYLE.md 4: the socket's plumbing cost about a tenth of a walk). The core
// finds it on the translator's control interface at end_of_elaboration and falls back to
// b_transport where none is there.
class DirectTranslateIf {
 public:
  virtual void translate(TranslationExt& ext) = 0;
  // A hint that a TLB miss on `next` in VM `vm` may come next, and on `after` after it
  // (`after` == `next` when nothing is known of the access after): whatever their walks
  // will load starts loading. No effect on the model; a translator may ignore it.
  virtual void prefetch(Gva next, Gva after, std::uint16_t vm) = 0;

 protected:
  ~DirectTranslateIf() = default;
};

}  // namespace pagesim
