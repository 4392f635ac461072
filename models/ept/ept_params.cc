#include "models/ept/ept_params.h"

namespace pagesim::ept {

void EptParams::describe(config::Schema& s) {
  s.field("format", format,
          "GPA -> HPA table format: ept (Intel EPT under an EPTP) or npt (AMD nested paging, "
          "x86 entries under nCR3)");
  s.field("levels", levels, "levels of the EPT/NPT: 4 (48-bit GPAs) or 5 (57-bit GPAs)")
      .range(4, 5);
  s.field("ad_bits", ad_bits,
          "accessed/dirty flags in the EPT (EPTP bit 6); guest page-table accesses then count "
          "as writes for EPT dirty flags")
      .note("Intel SDM Vol. 3C, Accessed and Dirty Flags for EPT");
}

}  // namespace pagesim::ept
