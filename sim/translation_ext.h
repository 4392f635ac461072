// The one TLM extension of the translation path: what the core asks the walker, and what
// the walk answered. Owned by the core, which reuses one payload and one extension for
// every miss (no heap per access).
#pragma once

#include <tlm>

#include "sim/access.h"
#include "sim/address.h"
#include "sim/cycles.h"
#include "sim/translation.h"

namespace pagesim {

struct TranslationExt : tlm::tlm_extension<TranslationExt> {
  // Request.
  Hpa root;  // CR3: the root table of the address space
  Gva gva;
  AccessKind kind = AccessKind::kRead;
  std::uint16_t pcid = 0;
  std::uint16_t vpid = 0;
  // Result.
  enum class Outcome : std::uint8_t { kOk, kPageFault } outcome = Outcome::kOk;
  Translation translation;
  unsigned fault_level = 0;  // level of the non-present entry on a page fault
  unsigned refs = 0;         // page-table references the walk made
  Cycles cycles{0};          // their summed latency

  tlm::tlm_extension_base* clone() const override { return new TranslationExt(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const TranslationExt&>(other);
  }
};

}  // namespace pagesim
