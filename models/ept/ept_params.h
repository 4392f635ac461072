// Parameters of the GPA -> HPA tables of a VM: Intel EPT or AMD NPT, 4 or 5 levels, and
// whether the hardware sets accessed/dirty flags in them.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include "base/config/schema.h"
#include "models/paging/ept_entry.h"

namespace pagesim::ept {

struct EptParams {
  // kEpt: Intel EPT entries under an EPTP. kNpt: AMD nested paging, x86 entries under nCR3.
  NestedFormat format = NestedFormat::kEpt;
  // 4 (48-bit GPAs) or 5 (57-bit GPAs): EPTP page-walk length, or the NPT's paging mode.
  std::uint32_t levels = 4;
  // EPTP bit 6 (SDM Vol. 3C, "Accessed and Dirty Flags for EPT"): the 2D walker sets A in
  // every EPT entry it uses and D in leaves it writes through. KVM turns it on when the
  // CPU has it (enable_ept_ad_bits, arch/x86/kvm/vmx/vmx.c). For NPT the flags are always
  // maintained by hardware; `false` then means "not modelled".
  bool ad_bits = true;
  void describe(config::Schema& s);
};

}  // namespace pagesim::ept

template <>
struct pagesim::config::EnumNames<pagesim::ept::NestedFormat> {
  static constexpr std::array<std::pair<std::string_view, pagesim::ept::NestedFormat>, 2> kNames{
      {{"ept", pagesim::ept::NestedFormat::kEpt}, {"npt", pagesim::ept::NestedFormat::kNpt}}};
};
