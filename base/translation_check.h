// sim.check (replay --check): is a translation a TLB or the walker's caches returned still
// what the current tables say? A pure comparison, used by the core for every access.
//
// `got` agrees with `want` (a walk from scratch of the current tables) for an access to
// `gva` when both map gva to the same HPA with the same rights (W, U/S, XD), got's page is
// no larger than want's (a TLB may hold a page splintered, never merged), and got is not
// dirty where the tables are clean (a clean entry over a dirty leaf is fine: the next
// store walks). No translation in the tables (want empty) never agrees.
//
// `narrower_rights` (shadow mode): KVM's shadow leaf may allow less than the guest's
// tables (read-only until the guest PTE is dirty: its emulation of the guest's A/D bits),
// so got's W, U/S and X need only be implied by want's, and dirty is not compared (the
// truth from the guest tables carries no dirty flag of the shadow leaf).
#pragma once

#include <optional>
#include <string>

#include "base/access.h"
#include "base/address.h"
#include "base/translation.h"

namespace pagesim {

bool translations_agree(Gva gva, const Translation& got, const std::optional<Translation>& want,
                        bool narrower_rights = false);

// The message a mismatch stops the run with: the record, the access, both answers and the
// structure that answered.
std::string translation_mismatch(std::uint64_t record, AccessKind kind, Gva gva, std::uint16_t pcid,
                                 const Translation& got, const std::optional<Translation>& want,
                                 const char* structure);

}  // namespace pagesim
