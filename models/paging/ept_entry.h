// The EPT paging-structure entry and the EPTP, as pure constants and functions, and the
// format switch between Intel EPT and AMD NPT.
//
// Intel SDM Vol. 3C, chapter "VMX Support for Address Translation", section "EPT
// Translation Mechanism" (tables "Format of an EPT PML4 Entry" .. "Format of an EPT
// Page-Table Entry") and "Extended-Page-Table Pointer (EPTP)" in "VM-Execution Control
// Fields". The names follow the SDM and, in brackets, Linux's arch/x86/include/asm/vmx.h:
//
//   bit  0  R       reads allowed                        (VMX_EPT_READABLE_MASK)
//   bit  1  W       writes allowed                       (VMX_EPT_WRITABLE_MASK)
//   bit  2  X       instruction fetches allowed          (VMX_EPT_EXECUTABLE_MASK)
//   bits 5:3 MT     EPT memory type (leaves only; 6 = WB)  (VMX_EPT_MT_EPTE_SHIFT)
//   bit  6  IPAT    ignore the guest PAT (leaves only)   (VMX_EPT_IPAT_BIT)
//   bit  7  PS      in a PDPTE maps 1 GiB, in a PDE 2 MiB (as the x86 format's PS)
//   bit  8  A       accessed, when EPTP bit 6 enables A/D (VMX_EPT_ACCESS_BIT)
//   bit  9  D       dirty (leaves only), same condition  (VMX_EPT_DIRTY_BIT)
//   bits 51:12      physical address of the next table or of a 4 KiB page; 51:21 and
//                   51:30 for 2 MiB and 1 GiB pages (the same masks as pte.h)
//
// An EPT entry is present ("the entry is used") when any of bits 2:0 is set; the SDM's
// other combinations (W without R, execute-only without support) are misconfigurations,
// not modelled, nor are mode-based execute control (bit 10) and the other ignored bits.
//
//   EPTP bits 2:0   memory type of the EPT paging structures (0 = UC, 6 = WB)
//                   (VMX_EPTP_MT_MASK, VMX_EPTP_MT_WB)
//        bits 5:3   EPT page-walk length minus 1: 3 for 4 levels, 4 for 5 (VMX_EPTP_PWL_4/5)
//        bit  6     enable accessed and dirty flags  (VMX_EPTP_AD_ENABLE_BIT)
//        bits 51:12 physical address of the EPT PML4 (or PML5) table
//
// AMD NPT (APM Vol. 2, 15.25 "Nested Paging") uses the ordinary x86-64 entry format of
// models/paging/pte.h under nCR3 (the VMCB's N_CR3 field, an ordinary CR3 value): P bit 0,
// A bit 5, D bit 6, PS bit 7, XD bit 63. Nested walks are user accesses (APM 15.25.5), so
// NPT entries carry U/S = 1.
#pragma once

#include <cstdint>

#include "base/address.h"
#include "base/page_size.h"
#include "models/paging/pte.h"

namespace pagesim::ept {

// Which entry format the GPA -> HPA tables use.
enum class NestedFormat : std::uint8_t { kEpt, kNpt };

inline constexpr std::uint64_t kRead = std::uint64_t{1} << 0;
inline constexpr std::uint64_t kWrite = std::uint64_t{1} << 1;
inline constexpr std::uint64_t kExecute = std::uint64_t{1} << 2;
inline constexpr std::uint64_t kRwx = kRead | kWrite | kExecute;
inline constexpr unsigned kMemoryTypeShift = 3;
inline constexpr std::uint64_t kMemoryTypeMask = std::uint64_t{7} << kMemoryTypeShift;
inline constexpr std::uint64_t kIgnorePat = std::uint64_t{1} << 6;
inline constexpr std::uint64_t kPs = std::uint64_t{1} << 7;
inline constexpr std::uint64_t kAccessed = std::uint64_t{1} << 8;
inline constexpr std::uint64_t kDirty = std::uint64_t{1} << 9;
inline constexpr std::uint64_t kAddressMask = paging::pte::kAddressMask;

// Memory types (SDM Vol. 3A, 11.3 "Methods of Caching Available"; the EPT uses the same
// encodings).
inline constexpr std::uint8_t kMemoryTypeUc = 0;
inline constexpr std::uint8_t kMemoryTypeWb = 6;

static_assert(kPs == paging::pte::kPs, "PS is bit 7 in both formats");

// --- EPT entries ---------------------------------------------------------------------------

constexpr bool is_present(std::uint64_t raw) { return (raw & kRwx) != 0; }

// A present entry at `level` that maps a page: every level-1 entry; a level-2 or level-3
// entry with PS = 1 (bit 7 is reserved at levels 4 and 5, taken as 0 here).
constexpr bool is_leaf(std::uint64_t raw, unsigned level) {
  return level == 1 || ((level == 2 || level == 3) && (raw & kPs) != 0);
}

constexpr std::uint8_t memory_type(std::uint64_t raw) {
  return static_cast<std::uint8_t>((raw & kMemoryTypeMask) >> kMemoryTypeShift);
}

struct EptView {
  bool present = false;
  bool read = false;
  bool write = false;
  bool execute = false;
  bool leaf = false;
  bool accessed = false;
  bool dirty = false;             // meaningful for leaves only
  bool ignore_pat = false;        // leaves only
  std::uint8_t memory_type = 0;   // leaves only
  PageSize size = PageSize::k4K;  // for leaves
  Hpa address;                    // next table (non-leaf) or page base (leaf, masked at its size)
};

// Decodes the EPT entry `raw` read at `level` (1 = PT .. 5 = PML5).
constexpr EptView decode(std::uint64_t raw, unsigned level) {
  EptView v;
  v.present = is_present(raw);
  v.read = (raw & kRead) != 0;
  v.write = (raw & kWrite) != 0;
  v.execute = (raw & kExecute) != 0;
  v.leaf = is_leaf(raw, level);
  v.accessed = (raw & kAccessed) != 0;
  v.dirty = (raw & kDirty) != 0;
  v.ignore_pat = (raw & kIgnorePat) != 0;
  v.memory_type = memory_type(raw);
  v.size = v.leaf ? paging::pte::leaf_page_size(level) : PageSize::k4K;
  v.address = Hpa(raw & (v.leaf ? paging::pte::page_address_mask(v.size) : kAddressMask));
  return v;
}

// A non-leaf EPT entry referencing `table`: R/W/X = 1 (the leaves decide the rights), as
// KVM's make_nonleaf_spte() does for TDP.
constexpr std::uint64_t make_table_entry(Hpa table) {
  return (table.value() & kAddressMask) | kRwx;
}

// A leaf mapping `page` (aligned to `size`) with the given rights and memory type; PS for
// huge pages; A = D = 0.
constexpr std::uint64_t make_leaf_entry(Hpa page, PageSize size, std::uint64_t rights = kRwx,
                                        std::uint8_t type = kMemoryTypeWb) {
  return (page.value() & paging::pte::page_address_mask(size)) | (rights & kRwx) |
         (std::uint64_t{type} << kMemoryTypeShift) | (size == PageSize::k4K ? 0 : kPs);
}

// --- EPTP ----------------------------------------------------------------------------------

inline constexpr std::uint64_t kEptpMemoryTypeMask = 0x7;
inline constexpr unsigned kEptpWalkLengthShift = 3;
inline constexpr std::uint64_t kEptpWalkLengthMask = std::uint64_t{7} << kEptpWalkLengthShift;
inline constexpr std::uint64_t kEptpAdEnable = std::uint64_t{1} << 6;

// `levels` is 4 or 5 (the walk length); the EPT tables are written back (WB).
constexpr std::uint64_t make_eptp(Hpa root, unsigned levels, bool ad_enabled) {
  return (root.value() & kAddressMask) | (std::uint64_t{levels - 1} << kEptpWalkLengthShift) |
         (ad_enabled ? kEptpAdEnable : 0) | kMemoryTypeWb;
}
constexpr Hpa eptp_root(std::uint64_t eptp) { return Hpa(eptp & kAddressMask); }
constexpr unsigned eptp_levels(std::uint64_t eptp) {
  return static_cast<unsigned>((eptp & kEptpWalkLengthMask) >> kEptpWalkLengthShift) + 1;
}
constexpr bool eptp_ad_enabled(std::uint64_t eptp) { return (eptp & kEptpAdEnable) != 0; }
constexpr std::uint8_t eptp_memory_type(std::uint64_t eptp) {
  return static_cast<std::uint8_t>(eptp & kEptpMemoryTypeMask);
}

// --- Either format: what the 2D walker needs -----------------------------------------------

// The bits that differ between EPT and NPT entries, chosen once per VM.
struct FormatBits {
  std::uint64_t present_mask;  // any of these set: the entry is present
  std::uint64_t accessed;
  std::uint64_t dirty;
};

constexpr FormatBits format_bits(NestedFormat f) {
  return f == NestedFormat::kEpt
             ? FormatBits{kRwx, kAccessed, kDirty}
             : FormatBits{paging::pte::kPresent, paging::pte::kAccessed, paging::pte::kDirty};
}

// KVM's access tracking of a leaf when the EPT has no A/D bits (arch/x86/kvm/mmu/spte.h,
// mark_spte_for_access_track / restore_acc_track_spte): the present bits (EPT R/W/X, NPT P)
// are saved at bits 54-56 and cleared, and bit 11 (SPTE_MMU_PRESENT, ignored by the
// hardware) keeps the leaf, with its frame, for KVM. The hardware sees it not present.
inline constexpr std::uint64_t kAccessTracked = std::uint64_t{1} << 11;
inline constexpr unsigned kAccessTrackSavedShift = 54;
constexpr bool is_access_tracked(std::uint64_t raw) { return (raw & kAccessTracked) != 0; }
constexpr std::uint64_t mark_access_tracked(std::uint64_t raw, const FormatBits& b) {
  return (raw & ~b.present_mask) | kAccessTracked |
         ((raw & b.present_mask) << kAccessTrackSavedShift);
}
constexpr std::uint64_t restore_access_tracked(std::uint64_t raw, const FormatBits& b) {
  return (raw & ~(kAccessTracked | (b.present_mask << kAccessTrackSavedShift))) |
         ((raw >> kAccessTrackSavedShift) & b.present_mask);
}

// Rights a nested entry grants, in the native walker's mask form (pte::Rights): EPT W and X
// give write and execute; NPT R/W and XD as on x86. User access is the guest's business
// (nested walks are user accesses on AMD; EPT has no U/S): always allowed here.
constexpr paging::pte::Rights rights_of(std::uint64_t raw, NestedFormat f) {
  if (f == NestedFormat::kEpt) {
    return static_cast<paging::pte::Rights>(
        paging::pte::kAllowUser | ((raw & kWrite) != 0 ? paging::pte::kAllowWrite : 0) |
        ((raw & kExecute) != 0 ? paging::pte::kAllowExecute : 0));
  }
  return static_cast<paging::pte::Rights>(paging::pte::rights_of(raw) | paging::pte::kAllowUser);
}

// A non-leaf entry in format `f`: EPT R/W/X = 1; NPT P, R/W, U/S = 1.
constexpr std::uint64_t make_table_entry(Hpa table, NestedFormat f) {
  return f == NestedFormat::kEpt
             ? make_table_entry(table)
             : paging::pte::make_table_entry(table, paging::pte::kRw | paging::pte::kUser);
}

// A leaf in format `f` with every right: EPT R/W/X = 1 and memory type WB; NPT P, R/W,
// U/S = 1 (the memory type comes from the guest and host PAT, not modelled). A = D = 0.
constexpr std::uint64_t make_leaf_entry(Hpa page, PageSize size, NestedFormat f) {
  return f == NestedFormat::kEpt
             ? make_leaf_entry(page, size)
             : paging::pte::make_leaf_entry(page, size, paging::pte::kRw | paging::pte::kUser);
}

}  // namespace pagesim::ept
