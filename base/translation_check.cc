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

}  // namespace pagesim
