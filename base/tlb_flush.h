// What the caller's TLBs must drop after a shadow-MMU operation (KVM's TLB flush requests:
// kvm_flush_remote_tlbs, KVM_REQ_TLB_FLUSH_CURRENT, the guest's own INVLPG or MOV to CR3).
// The shadow machine flushes its own walker's paging-structure caches to the same scope;
// the TLBs are the caller's.
#pragma once

#include <cstdint>

#include "base/address.h"

namespace pagesim {

struct TlbFlush {
  enum class Scope : std::uint8_t {
    kNone,  // nothing
    kPage,  // the entries for `gva` tagged `pcid` (INVLPG)
    kPcid,  // every entry tagged `pcid` (MOV to CR3 without the no-flush bit)
    kAll,   // every entry of every PCID (kvm_flush_remote_tlbs: a shadow entry was dropped
            // or lost rights, and may be cached under any PCID)
  };
  Scope scope = Scope::kNone;
  Gva gva;                 // kPage
  std::uint16_t pcid = 0;  // kPage, kPcid

  static constexpr TlbFlush none() { return {}; }
  static constexpr TlbFlush page(Gva gva, std::uint16_t pcid) { return {Scope::kPage, gva, pcid}; }
  static constexpr TlbFlush one_pcid(std::uint16_t pcid) { return {Scope::kPcid, Gva(), pcid}; }
  static constexpr TlbFlush all() { return {Scope::kAll, Gva(), 0}; }

  // The smallest scope covering both: two pages of one PCID make that PCID, two PCIDs make
  // everything.
  constexpr TlbFlush& merge(const TlbFlush& o) {
    if (o.scope == Scope::kNone || scope == Scope::kAll) {
      return *this;
    }
    if (scope == Scope::kNone || o.scope == Scope::kAll) {
      *this = o;
      return *this;
    }
    if (pcid != o.pcid) {
      *this = all();
    } else if (scope == Scope::kPage && (o.scope == Scope::kPcid || o.gva != gva)) {
      *this = one_pcid(pcid);
    }
    return *this;
  }

  constexpr bool operator==(const TlbFlush&) const = default;
};

}  // namespace pagesim
