// A small virtualized machine for 2D-walker tests and benchmarks: real host PhysicalMemory
// and FrameAllocator, real EptTables, and guest page tables written as a guest kernel would
// (x86 entries holding GPAs) into host memory at the HPAs the EPT gives. A fixed memory
// latency per reference. No guest OS model: the guest's "kernel" is map() below.
//
// Guest-physical layout: guest page-table frames ascend from 1 MiB, guest data frames of
// every size descend from the top of guest memory (the FrameAllocator's order, in GPA
// space). A guest table frame is backed in the EPT when allocated (the guest kernel writes
// it); a data page is backed on request, at ept_size granularity, host frames from the host
// FrameAllocator.
#pragma once

#include <cstdint>
#include <optional>

#include "base/stats/stats.h"
#include "models/ept/ept_tables.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/memory_timing.h"
#include "models/mem/physical_memory.h"
#include "models/walker/nested_walker.h"

namespace pagesim::walker::testing {

inline WalkerParams guest_pwc(bool on) {
  WalkerParams p;
  p.pwc.enabled = on;
  return p;
}

inline NestedWalkerParams nested_caches(bool ept_pwc, bool ntlb, bool pte_cache) {
  NestedWalkerParams p;
  p.ept_pwc.enabled = ept_pwc;
  p.ntlb.enabled = ntlb;
  p.pte_cache.enabled = pte_cache;
  return p;
}

struct NestedConfig {
  unsigned guest_levels = 4;
  PageSize guest_size = PageSize::k4K;
  unsigned ept_levels = 4;
  PageSize ept_size = PageSize::k4K;
  ept::NestedFormat format = ept::NestedFormat::kEpt;
  bool ad_bits = true;
  WalkerParams guest = guest_pwc(false);
  NestedWalkerParams nested = nested_caches(false, false, false);
  std::uint64_t host_bytes = 16 * kGiB;  // room for 1 GiB host frames at the top
  std::uint64_t guest_bytes = 8 * kGiB;
};

struct NestedMachine {
  static constexpr std::uint64_t kRefLatency = 100;  // cycles per reference
  static constexpr std::uint16_t kVpid = 1;

  explicit NestedMachine(const NestedConfig& c)
      : cfg(c),
        memory(c.host_bytes),
        frames(c.host_bytes, kMiB),
        timing(Cycles(kRefLatency)),
        ept(ept::EptParams{.format = c.format, .levels = c.ept_levels, .ad_bits = c.ad_bits},
            memory, frames, &stats_root),
        walker(c.guest, c.nested, c.guest_levels,
               ept::EptParams{.format = c.format, .levels = c.ept_levels, .ad_bits = c.ad_bits},
               memory, timing, &stats_root),
        m_table_next(kMiB),
        m_data_top(c.guest_bytes),
        guest_root(alloc_guest_table()) {}

  // Backs the ept_size page holding `gpa` with a fresh host frame, unless mapped. A 4 KiB
  // frame for a guest page-table page comes from the host's dense table pool rather than
  // from among the data frames: the simulator stores only table contents, and 4 KiB guest
  // tables scattered one per 2 MiB of host memory would make the host process resident in
  // a huge page per guest table (64 GiB for a 64 GiB guest). The modelled timing does not
  // depend on it (FixedLatency).
  void back(Gpa gpa, bool guest_table = false) {
    if (!ept.lookup_debug(gpa)) {
      const unsigned shift = page_shift(cfg.ept_size);
      const Hpa frame = guest_table && cfg.ept_size == PageSize::k4K
                            ? frames.allocate_table()
                            : frames.allocate(cfg.ept_size);
      ept.map(gpa.page_base(shift), frame, cfg.ept_size);
    }
  }
  // The HPA of a backed GPA (software walk of the EPT).
  Hpa hpa_of(Gpa gpa) const { return ept.lookup_debug(gpa)->hpa_of(gpa); }

  Gpa alloc_guest_table() {
    const Gpa gpa(m_table_next);
    m_table_next += 4 * kKiB;
    back(gpa, /*guest_table=*/true);
    return gpa;
  }
  Gpa alloc_guest_data(PageSize size) {
    m_data_top = (m_data_top - page_bytes(size)) & ~(page_bytes(size) - 1);
    return Gpa(m_data_top);
  }

  // The guest kernel's demand fault: maps the guest_size page of `va` (tables as needed,
  // R/W = U/S = 1), backs the GPA of `va` in the EPT when `back_data`. Returns that GPA.
  // (pte.h builds entries from an Hpa; guest entries hold GPAs, hence Hpa(gpa.value()).)
  Gpa map(std::uint64_t va, bool back_data = true) {
    const unsigned leaf = leaf_level(cfg.guest_size);
    std::uint64_t table_hpa;
    if (leaf == 1 && m_last_pt && m_last_pt_va == (va >> 21)) {
      table_hpa = *m_last_pt;  // the bulk-mapping fast path: the same PT as last time
    } else {
      Gpa table = guest_root;
      for (unsigned level = cfg.guest_levels; level > leaf; --level) {
        const Hpa entry(hpa_of(table).value() | pte::entry_offset(va, level));
        std::uint64_t raw = memory.read_u64(entry);
        if ((raw & pte::kPresent) == 0) {
          raw = pte::make_table_entry(Hpa(alloc_guest_table().value()), pte::kRw | pte::kUser);
          memory.write_u64(entry, raw);
        }
        table = Gpa(raw & pte::kAddressMask);
      }
      table_hpa = hpa_of(table).value();
      if (leaf == 1) {
        m_last_pt = table_hpa;
        m_last_pt_va = va >> 21;
      }
    }
    const Hpa entry(table_hpa | pte::entry_offset(va, leaf));
    std::uint64_t raw = memory.read_u64(entry);
    if ((raw & pte::kPresent) == 0) {
      raw = pte::make_leaf_entry(Hpa(alloc_guest_data(cfg.guest_size).value()), cfg.guest_size,
                                 pte::kRw | pte::kUser);
      memory.write_u64(entry, raw);
    }
    const Gpa gpa((raw & pte::page_address_mask(cfg.guest_size)) |
                  (va & (page_bytes(cfg.guest_size) - 1)));
    if (back_data) {
      back(gpa);
    }
    return gpa;
  }

  // The GPA of the guest table at `level` on the way to `va` (level n is the root).
  Gpa guest_table_gpa(std::uint64_t va, unsigned level) const {
    Gpa table = guest_root;
    for (unsigned l = cfg.guest_levels; l > level; --l) {
      table = Gpa(memory.read_u64(Hpa(hpa_of(table).value() | pte::entry_offset(va, l))) &
                  pte::kAddressMask);
    }
    return table;
  }
  // The guest entry at `level` for `va`, as in memory.
  std::uint64_t guest_entry(std::uint64_t va, unsigned level) const {
    return memory.read_u64(
        Hpa(hpa_of(guest_table_gpa(va, level)).value() | pte::entry_offset(va, level)));
  }

  NestedWalkRequest request(std::uint64_t va, AccessKind kind = AccessKind::kRead,
                            std::uint16_t pcid = 0) const {
    return NestedWalkRequest{.guest_root = guest_root,
                             .ept_root = ept.root(),
                             .gva = Gva(va),
                             .kind = kind,
                             .pcid = pcid,
                             .vpid = kVpid};
  }
  NestedWalkResult walk(std::uint64_t va, AccessKind kind = AccessKind::kRead,
                        std::uint16_t pcid = 0) {
    return walker.walk(request(va, kind, pcid));
  }
  NestedWalkResult debug(std::uint64_t va) const { return walker.translate_debug(request(va)); }

  NestedConfig cfg;
  stats::Group stats_root{nullptr, ""};
  mem::PhysicalMemory memory;
  mem::FrameAllocator frames;
  mem::FixedLatency timing;
  ept::EptTables ept;
  NestedWalker walker;

 private:
  std::uint64_t m_table_next;
  std::uint64_t m_data_top;
  std::optional<std::uint64_t> m_last_pt;
  std::uint64_t m_last_pt_va = 0;

 public:
  Gpa guest_root;  // the guest CR3
};

}  // namespace pagesim::walker::testing
