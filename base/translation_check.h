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

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

// The windows between a PTE change and its flush (sim.interleave=time, sim.check). By the
// SDM (Vol. 3A 4.10.5, "Propagation of paging-structure changes to multiple processors"),
// after software changes a paging-structure entry another processor, or the one that
// changed it, may use the translation from before the change until the invalidation
// reaches it. In time mode the CPUs' records no longer run in trace order, so a CPU can
// reach an access between another CPU's `!ptewrite` and its `!invlpg` that the trace put
// after both. A window opens at the `!ptewrite` with the translation from before it, of
// one address space (PCID) and page, and closes at the first INVLPG of an address in that
// page on any CPU of the VM (in the model the shootdown to every other CPU of the address
// space goes out before any other record runs), or when the address space is torn down
// (`!exit`). Other flushes leave it open: under shadow paging an unsync shadow page keeps
// the old translation for every vCPU's walks until the INVLPG. While it is open,
// `accepts` takes that translation, and only that one, for an access to the page: the
// check passes. After it closes nothing is accepted: a CPU still holding the translation
// missed the flush, and the check fails. A window the run ends with, whose translation
// was used by a record the trace puts after the change, is a flush that never came
// (`unflushed_use`; a record before the change, run after it, used what the trace gave it).
class StaleWindows {
 public:
  // `!ptewrite` at trace record `record` changed the PTE that maps the page
  // [base, base + bytes) of address space `pcid` (the page the tables' leaf maps: a large
  // guest page under smaller EPT pages is one page here); add() gives the translations it
  // had before.
  void open(std::uint16_t pcid, std::uint64_t base, std::uint64_t bytes, std::uint64_t record);
  // A translation from before the last change opened, of the part of its page holding
  // `gva` (the whole page, or a piece of it: t.size).
  void add(Gva gva, const Translation& t);
  // Whether `got`, for an access to `gva` in `pcid`, is the translation from before a
  // PTE change whose window is open (agreeing as translations_agree says); if so the use
  // is noted (the access at trace record `record` on CPU `cpu`).
  bool accepts(Gva gva, std::uint16_t pcid, const Translation& got, bool narrower_rights,
               std::uint64_t record, std::size_t cpu);
  // An INVLPG of `gva` in `pcid` closes the windows of the page holding it.
  void close_page(std::uint16_t pcid, Gva gva);
  // Address space `pcid` was torn down; close_all: everything was (tests).
  void close_pcid(std::uint16_t pcid);
  void close_all() { m_open.clear(); }
  bool empty() const { return m_open.empty(); }
  // The first window still open whose translation was used, as an error message; empty
  // when there is none.
  std::string unflushed_use() const;

 private:
  struct Piece {
    std::uint64_t base;  // its first address (of t.size)
    Translation t;
  };
  struct Window {
    std::uint16_t pcid;
    std::uint64_t base;  // the page's first address
    std::uint64_t bytes;
    std::uint64_t record;  // the !ptewrite's
    std::vector<Piece> old;
    std::uint64_t uses = 0;       // by records after the !ptewrite in the trace
    std::uint64_t first_use = 0;  // the trace record of the first of them
    std::size_t first_cpu = 0;
  };
  std::vector<Window> m_open;
};

}  // namespace pagesim
