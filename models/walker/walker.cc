#include "models/walker/walker.h"

#include <stdexcept>
#include <string>
#include <utility>

namespace pagesim::walker {

namespace {

// 48-bit linear addresses with 4 levels, 57-bit with 5 (SDM 4.5).
unsigned la_bits(unsigned levels) { return levels == 5 ? 57 : 48; }

PscParams effective(const PwcParams& pwc, const PscParams& p) {
  return pwc.enabled ? p : PscParams{.entries = 0, .ways = 1};
}

Translation make_translation(std::uint64_t leaf, unsigned level, pte::Rights rights) {
  Translation t;
  t.size = pte::leaf_page_size(level);
  t.page_base = Hpa(leaf & pte::page_address_mask(t.size));
  t.writable = (rights & pte::kAllowWrite) != 0;
  t.user = (rights & pte::kAllowUser) != 0;
  t.executable = (rights & pte::kAllowExecute) != 0;
  t.dirty = (leaf & pte::kDirty) != 0;
  return t;
}

}  // namespace

Walker::Walker(const WalkerParams& params, unsigned levels, mem::PhysicalMemory& memory,
               mem::MemoryTiming& timing, stats::Group* parent)
    : m_levels(pte::checked_levels(levels, "paging.levels")),
      m_pwc_enabled(params.pwc.enabled),
      m_memory(memory),
      m_timing(timing),
      m_stats(parent),
      m_psc{{
          PagingStructureCache(effective(params.pwc, params.pwc.pd), pte::kPd, la_bits(levels)),
          PagingStructureCache(effective(params.pwc, params.pwc.pdpt), pte::kPdpt, la_bits(levels)),
          PagingStructureCache(effective(params.pwc, params.pwc.pml4), pte::kPml4, la_bits(levels)),
          // The PML5E cache exists only with 5-level paging.
          PagingStructureCache(levels == 5 ? effective(params.pwc, params.pwc.pml5)
                                           : PscParams{.entries = 0, .ways = 1},
                               pte::kPml5, la_bits(levels)),
      }},
      m_psc_stats{&m_stats.pd, &m_stats.pdpt, &m_stats.pml4, &m_stats.pml5},
      m_pt_memo(kMemoSlots) {}

WalkResult Walker::walk(const WalkRequest& r) {
  const std::uint64_t va = r.gva.value();
  const bool write = r.kind == AccessKind::kWrite;

  // 1. Paging-structure caches, deepest first.
  unsigned level = m_levels;
  std::uint64_t table = r.root.value() & pte::kAddressMask;
  pte::Rights rights = pte::kAllRights;
  if (m_pwc_enabled) {
    for (unsigned l = pte::kPd; l <= m_levels; ++l) {
      PagingStructureCache& psc = m_psc[l - pte::kPd];
      if (!psc.enabled()) {
        continue;
      }
      PscStats& s = *m_psc_stats[l - pte::kPd];
      if (const PagingStructureCache::Entry* e = psc.lookup(va, r.pcid)) {
        ++s.hits;
        s.refs_saved += m_levels - l + 1;
        table = e->next_table;
        rights = e->rights;
        level = l - 1;
        break;
      }
      ++s.misses;
    }
  }

  // 2.-4. One reference per level from there.
  WalkResult result;
  for (;;) {
    const Hpa entry_hpa(table | pte::entry_offset(va, level));
    m_memory.prefetch(entry_hpa);  // the entry's host line loads while the cache model runs
    if (level == pte::kPt) {
      const std::uint64_t region = va >> kRegionShift;
      m_pt_memo[region & (kMemoSlots - 1)] = {region, table};  // prefetch()'s, host-side
    }
    result.cycles += m_timing.read(entry_hpa);
    ++result.refs;
    const std::uint64_t raw = m_memory.read_u64(entry_hpa);
    if ((raw & pte::kPresent) == 0) {
      result.outcome = WalkResult::Outcome::kNotPresent;
      result.fault_level = level;
      break;
    }
    rights &= pte::rights_of(raw);
    const bool leaf = pte::is_leaf(raw, level);
    std::uint64_t updated = raw | pte::kAccessed;
    if (leaf && write && (rights & pte::kAllowWrite) != 0) {
      updated |= pte::kDirty;
    }
    if (updated != raw) {
      m_memory.write_u64(entry_hpa, updated);
      ++m_stats.ad_updates;
    }
    if (leaf) {
      result.translation = make_translation(updated, level, rights);
      break;
    }
    // A non-leaf is at level 2 or above (every PTE is a leaf): its cache exists.
    table = updated & pte::kAddressMask;
    m_psc[level - pte::kPd].fill(va, r.pcid, table, rights);  // no-op when the cache is off
    --level;
  }

  ++m_stats.walks;
  m_stats.refs += result.refs;
  m_stats.cycles += result.cycles.count();
  if (result.outcome != WalkResult::Outcome::kOk) {
    ++m_stats.faults;
  }
  m_stats.refs_per_walk.sample(result.refs);
  m_stats.cycles_per_walk.sample(result.cycles.count());
  return result;
}

void Walker::prefetch_pt_entry(std::uint64_t va) const {
  const std::uint64_t region = va >> kRegionShift;
  const TableMemo& m = m_pt_memo[region & (kMemoSlots - 1)];
  if (m.region == region) {
    const Hpa entry_hpa(m.table_hpa | pte::entry_offset(va, pte::kPt));
    m_memory.prefetch(entry_hpa);
    m_timing.prefetch(entry_hpa);
  }
}

void Walker::prefetch(Gva next, Gva after) const {
  // `after`'s lines load through two accesses; `next`'s started at the hint before (again
  // here for a hint that came without one before it).
  prefetch_pt_entry(after.value());
  prefetch_pt_entry(next.value());
}

std::optional<Translation> Walker::translate_debug(Hpa root, Gva gva) const {
  const std::uint64_t va = gva.value();
  std::uint64_t table = root.value() & pte::kAddressMask;
  pte::Rights rights = pte::kAllRights;
  for (unsigned level = m_levels; level >= pte::kPt; --level) {
    const std::uint64_t raw = m_memory.read_u64(Hpa(table | pte::entry_offset(va, level)));
    if ((raw & pte::kPresent) == 0) {
      return std::nullopt;
    }
    rights &= pte::rights_of(raw);
    if (pte::is_leaf(raw, level)) {
      return make_translation(raw, level, rights);
    }
    table = raw & pte::kAddressMask;
  }
  return std::nullopt;  // not reached: level 1 entries are always leaves
}

void Walker::invalidate_all() {
  for (PagingStructureCache& psc : m_psc) {
    psc.invalidate_all();
  }
}

void Walker::invalidate_pcid(std::uint16_t pcid) {
  for (PagingStructureCache& psc : m_psc) {
    psc.invalidate_pcid(pcid);
  }
}

void Walker::invalidate_page(Gva, std::uint16_t pcid) { invalidate_pcid(pcid); }

void Walker::set_cpus(unsigned cpus) {
  if (cpus == 0) {
    throw std::invalid_argument("walker: at least one CPU");
  }
  // Each parked set starts as the current one does at power-on: the same geometry, empty.
  std::array<PagingStructureCache, 4> empty = m_psc;
  for (PagingStructureCache& psc : empty) {
    psc.invalidate_all();
  }
  m_parked.assign(cpus, empty);
  m_cpu = 0;
}

void Walker::switch_cpu(unsigned cpu) {
  if (cpu == m_cpu) {
    return;
  }
  if (cpu >= m_parked.size()) {
    throw std::out_of_range("walker: CPU " + std::to_string(cpu) + " of " +
                            std::to_string(m_parked.size()));
  }
  std::swap(m_psc, m_parked[m_cpu]);  // park the current CPU's; its slot's empty set comes in
  std::swap(m_psc, m_parked[cpu]);    // and goes to the new CPU's slot
  m_cpu = cpu;
}

void Walker::invalidate_pcid_every_cpu(std::uint16_t pcid) {
  invalidate_pcid(pcid);
  for (auto& parked : m_parked) {
    for (PagingStructureCache& psc : parked) {
      psc.invalidate_pcid(pcid);
    }
  }
}

void Walker::invalidate_all_every_cpu() {
  invalidate_all();
  for (auto& parked : m_parked) {
    for (PagingStructureCache& psc : parked) {
      psc.invalidate_all();
    }
  }
}

}  // namespace pagesim::walker
