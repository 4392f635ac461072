#include "base/translation_check.h"

#include <sstream>

#include "base/hex.h"
#include "base/page_size.h"

namespace pagesim {
namespace {

std::string describe(Gva gva, const Translation& t) {
  std::ostringstream o;
  o << "HPA " << hex(t.hpa_of(gva.value()).value()) << " (" << page_size_name(t.size)
    << (t.writable ? ", W" : ", read-only") << (t.user ? ", U" : ", S")
    << (t.executable ? "" : ", XD") << (t.dirty ? ", D" : "") << ")";
  return o.str();
}

}  // namespace

bool translations_agree(Gva gva, const Translation& got, const std::optional<Translation>& want,
                        bool narrower_rights) {
  if (!want || want->hpa_of(gva.value()) != got.hpa_of(gva.value()) ||
      page_bytes(got.size) > page_bytes(want->size)) {
    return false;
  }
  if (narrower_rights) {
    return (!got.writable || want->writable) && (!got.user || want->user) &&
           (!got.executable || want->executable);
  }
  return want->writable == got.writable && want->user == got.user &&
         want->executable == got.executable && (!got.dirty || want->dirty);
}

std::string translation_mismatch(std::uint64_t record, AccessKind kind, Gva gva, std::uint16_t pcid,
                                 const Translation& got, const std::optional<Translation>& want,
                                 const char* structure) {
  const char k = kind == AccessKind::kRead ? 'R' : kind == AccessKind::kWrite ? 'W' : 'X';
  return "check failed at trace record " + std::to_string(record) + " (" + k + " " +
         hex(gva.value()) + ", PCID " + std::to_string(pcid) + "): the " + structure + " gives " +
         describe(gva, got) + ", a walk from scratch of the current tables gives " +
         (want ? describe(gva, *want) : std::string("no translation")) + ": the " + structure +
         " is stale";
}

void StaleWindows::open(std::uint16_t pcid, std::uint64_t base, std::uint64_t bytes,
                        std::uint64_t record) {
  m_open.push_back(Window{.pcid = pcid, .base = base, .bytes = bytes, .record = record, .old = {}});
}

void StaleWindows::add(Gva gva, const Translation& t) {
  const std::uint64_t bytes = page_bytes(t.size);
  m_open.back().old.push_back(Piece{.base = gva.value() & ~(bytes - 1), .t = t});
}

bool StaleWindows::accepts(Gva gva, std::uint16_t pcid, const Translation& got,
                           bool narrower_rights, std::uint64_t record, std::size_t cpu) {
  for (Window& w : m_open) {
    if (w.pcid != pcid || gva.value() - w.base >= w.bytes) {
      continue;
    }
    for (const Piece& p : w.old) {
      if (gva.value() - p.base < page_bytes(p.t.size) &&
          translations_agree(gva, got, p.t, narrower_rights)) {
        // A use the trace puts before the change is no use of a stale translation, whether
        // or not a flush follows: only the later ones count for unflushed_use.
        if (record > w.record && w.uses++ == 0) {
          w.first_use = record;
          w.first_cpu = cpu;
        }
        return true;
      }
    }
  }
  return false;
}

void StaleWindows::close_page(std::uint16_t pcid, Gva gva) {
  std::erase_if(m_open,
                [&](const Window& w) { return w.pcid == pcid && gva.value() - w.base < w.bytes; });
}

void StaleWindows::close_pcid(std::uint16_t pcid) {
  std::erase_if(m_open, [&](const Window& w) { return w.pcid == pcid; });
}

std::string StaleWindows::unflushed_use() const {
  for (const Window& w : m_open) {
    if (w.uses != 0) {
      return "check failed: the !ptewrite at trace record " + std::to_string(w.record) +
             " changed the PTE of " + hex(w.base) + " (PCID " + std::to_string(w.pcid) +
             ") and no INVLPG of the page followed, but CPU " + std::to_string(w.first_cpu) +
             " used the translation from before it at trace record " + std::to_string(w.first_use) +
             " (" + std::to_string(w.uses) + " uses in all): a missed flush";
    }
  }
  return {};
}

}  // namespace pagesim
