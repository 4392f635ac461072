#include "models/walker/nested_walker.h"

#include <stdexcept>
#include <string>
#include <utility>

namespace pagesim::walker {

namespace {

// 48-bit addresses with 4 levels, 57-bit with 5.
std::uint64_t address_mask(unsigned levels) {
  return (std::uint64_t{1} << (levels == 5 ? 57 : 48)) - 1;
}

// A paging-structure cache of `level`: present when its switch is on and the walk has that
// level above the leaf's table (level <= levels).
WalkCache psc(const PwcParams& p, unsigned level, unsigned levels, const char* what) {
  const PscParams& c = level == 2 ? p.pd : level == 3 ? p.pdpt : level == 4 ? p.pml4 : p.pml5;
  const bool on = p.enabled && level <= levels;
  return WalkCache(on ? c.entries : 0, c.ways, what);
}

WalkCache cache(const WalkCacheParams& p, const char* what) {
  return WalkCache(p.on() ? p.entries : 0, p.ways, what);
}

constexpr std::uint64_t bit(unsigned i) { return std::uint64_t{1} << i; }

// A reference made by translate_debug: counted, not timed.
void debug_ref(unsigned g, unsigned h, NestedWalkResult& res) {
  ++res.refs;
  ++(h == 0 ? res.guest_refs : res.host_refs);
  res.cells |= bit(cell_index(g, h));
}

}  // namespace

NestedWalker::NestedWalker(const WalkerParams& guest, const NestedWalkerParams& nested,
                           unsigned guest_levels, const ept::EptParams& ept,
                           mem::PhysicalMemory& memory, mem::MemoryTiming& timing,
                           stats::Group* parent)
    : m_n(pte::checked_levels(guest_levels, "guest.levels")),
      m_m(pte::checked_levels(ept.levels, "ept.levels")),
      m_format(ept.format),
      m_bits(ept::format_bits(ept.format)),
      m_ad(ept.ad_bits),
      m_guest_va_mask(address_mask(m_n)),
      m_gpa_mask(address_mask(m_m)),
      m_memory(memory),
      m_timing(timing),
      m_stats(parent),
      m_guest_psc_on(guest.pwc.enabled),
      m_ept_psc_on(nested.ept_pwc.enabled),
      m_guest_psc{
          {psc(guest.pwc, 2, m_n, "walker.pwc.pd"), psc(guest.pwc, 3, m_n, "walker.pwc.pdpt"),
           psc(guest.pwc, 4, m_n, "walker.pwc.pml4"), psc(guest.pwc, 5, m_n, "walker.pwc.pml5")}},
      m_ept_psc{{psc(nested.ept_pwc, 2, m_m, "walker.ept_pwc.pd"),
                 psc(nested.ept_pwc, 3, m_m, "walker.ept_pwc.pdpt"),
                 psc(nested.ept_pwc, 4, m_m, "walker.ept_pwc.pml4"),
                 psc(nested.ept_pwc, 5, m_m, "walker.ept_pwc.pml5")}},
      m_ntlb(cache(nested.ntlb, "walker.ntlb")),
      m_pte_cache(cache(nested.pte_cache, "walker.pte_cache")),
      m_hpa_caches(m_ntlb.enabled() || m_pte_cache.enabled()),
      m_guest_psc_stats{&m_stats.pwc_pd, &m_stats.pwc_pdpt, &m_stats.pwc_pml4, &m_stats.pwc_pml5},
      m_ept_psc_stats{&m_stats.ept_pwc_pd, &m_stats.ept_pwc_pdpt, &m_stats.ept_pwc_pml4,
                      &m_stats.ept_pwc_pml5},
      m_guest_pt_memo(kMemoSlots),
      m_ept_pt_memo(kMemoSlots) {}

std::uint64_t NestedWalker::memo_guest_leaf_hpa(std::uint64_t va) const {
  const std::uint64_t region = (va & m_guest_va_mask) >> kRegionShift;
  const TableMemo& m = m_guest_pt_memo[memo_slot(region)];
  return m.region == region ? m.table_hpa | pte::entry_offset(va, pte::kPt) : 0;
}

void NestedWalker::prefetch(Gva next, Gva after) const {
  // `after`: its guest leaf entry, whose line the next hint reads.
  if (const std::uint64_t hpa = memo_guest_leaf_hpa(after.value()); hpa != 0) {
    m_memory.prefetch(Hpa(hpa));
    m_timing.prefetch(Hpa(hpa));
  }
  // `next`: its guest leaf entry (loading since the last hint) gives the data GPA.
  const std::uint64_t leaf_hpa = memo_guest_leaf_hpa(next.value());
  if (leaf_hpa == 0) {
    return;
  }
  const std::uint64_t leaf = m_memory.read_u64(Hpa(leaf_hpa));
  if ((leaf & pte::kPresent) == 0) {
    return;
  }
  const std::uint64_t gpa = ((leaf & pte::page_address_mask(PageSize::k4K)) |
                             (next.value() & (page_bytes(PageSize::k4K) - 1))) &
                            m_gpa_mask;
  const std::uint64_t region = gpa >> kRegionShift;
  const TableMemo& m = m_ept_pt_memo[memo_slot(region)];
  if (m.region != region) {
    return;
  }
  const Hpa ept_leaf(m.table_hpa | pte::entry_offset(gpa, pte::kPt));
  m_memory.prefetch(ept_leaf);
  m_timing.prefetch(ept_leaf);
}

template <bool kGuest, bool kHpaCaches>
[[gnu::always_inline]] inline std::uint64_t NestedWalker::reference(std::uint64_t hpa, unsigned g,
                                                                    unsigned h, bool& from_cache,
                                                                    NestedWalkResult& res) {
  if (kHpaCaches && m_pte_cache.enabled()) {
    if (const WalkCache::Entry* e =
            m_pte_cache.lookup(hpa >> 3, kGuest ? kGuestEntry : kEptEntry)) {
      ++m_stats.pte_cache.hits;
      ++m_stats.pte_cache.refs_saved;
      from_cache = true;
      return e->value;
    }
    ++m_stats.pte_cache.misses;
  }
  from_cache = false;
  m_memory.prefetch(Hpa(hpa));  // the entry's host line loads while the cache model runs
  res.cycles += m_timing.read(Hpa(hpa));
  ++(kGuest ? res.guest_refs : res.host_refs);  // refs: their sum, in finish()
  const unsigned cell = cell_index(g, h);
  res.cells |= bit(cell);
  ++*m_stats.cells[cell];
  return m_memory.read_u64(Hpa(hpa));
}

template <bool kGuestTable, bool kHpaCaches>
[[gnu::always_inline]] inline NestedWalker::EptStep NestedWalker::ept_translate(
    std::uint64_t gpa, std::uint64_t ept_root, unsigned g, bool write, NestedWalkResult& res) {
  EptStep st;
  const std::uint64_t ctx = ept_root >> 12;
  const std::uint64_t key_gpa = gpa & m_gpa_mask;

  // The nested TLB: guest page-table GPAs only.
  if (kGuestTable && kHpaCaches && m_ntlb.enabled()) {
    if (const WalkCache::Entry* e = m_ntlb.lookup(key_gpa >> 12, ctx)) {
      ++m_stats.ntlb.hits;
      m_stats.ntlb.refs_saved += e->aux;
      st.ok = true;
      st.off_refs = e->aux;
      st.level = m_m + 1 - e->aux;
      st.hpa = e->value | (gpa & 0xfff);
      st.rights = e->rights;
      st.leaf_dirty = true;  // guest-table accesses set D at fill (when A/D is on)
      return st;
    }
    ++m_stats.ntlb.misses;
  }

  // EPT paging-structure caches, deepest first. Every level below a hit (or every level,
  // with no hit) was looked up and missed: its fill below takes the LRU entry
  // (fill_absent), nothing else touching that cache in between.
  unsigned level = m_m;
  std::uint64_t table = ept_root;
  pte::Rights rights = pte::kAllRights;
  if (m_ept_psc_on) {
#pragma GCC unroll 4
    for (unsigned l = pte::kPd; l <= pte::kPml5; ++l) {
      if (l > m_m) {
        break;
      }
      WalkCache& c = m_ept_psc[l - pte::kPd];
      if (!c.enabled()) {
        continue;
      }
      WalkCacheStats& s = *m_ept_psc_stats[l - pte::kPd];
      if (const WalkCache::Entry* e = c.lookup(key_gpa >> pte::index_shift(l), ctx)) {
        ++s.hits;
        s.refs_saved += m_m - l + 1;
        table = e->value;
        rights = e->rights;
        level = l - 1;
        break;
      }
      ++s.misses;
    }
  }

  // One entry per EPT level from there.
  const bool set_dirty = kGuestTable || write;
  for (;;) {
    const std::uint64_t entry_hpa = table | pte::entry_offset(gpa, level);
    bool cached = false;
    const std::uint64_t raw = reference<false, kHpaCaches>(entry_hpa, g, level, cached, res);
    if ((raw & m_bits.present_mask) == 0) {
      st.level = level;
      st.off_refs = m_m - level + 1;
      return st;
    }
    rights &= ept::rights_of(raw, m_format);
    const bool leaf = ept::is_leaf(raw, level);
    std::uint64_t updated = raw;
    if (m_ad) {
      updated |= m_bits.accessed;
      if (leaf && set_dirty) {
        updated |= m_bits.dirty;
      }
      if (updated != raw) {
        m_memory.write_u64(Hpa(entry_hpa), updated);
        ++m_stats.ad_updates;
      }
    }
    if (leaf) {
      // The leaf's page offset: bits below its level's index (page_bytes(leaf_page_size) - 1).
      static constexpr std::array<std::uint64_t, 4> kOffsetMask = {
          0, (std::uint64_t{1} << pte::index_shift(1)) - 1,
          (std::uint64_t{1} << pte::index_shift(2)) - 1,
          (std::uint64_t{1} << pte::index_shift(3)) - 1};  // by leaf level 1..3
      const std::uint64_t offset_mask = kOffsetMask[level];
      st.ok = true;
      st.level = level;
      st.off_refs = m_m - level + 1;
      st.hpa = (updated & ept::kAddressMask & ~offset_mask) | (gpa & offset_mask);
      st.rights = rights;
      st.leaf_dirty = (updated & m_bits.dirty) != 0;
      if (kGuestTable && kHpaCaches) {
        m_ntlb.fill(key_gpa >> 12, ctx, st.hpa & pte::kAddressMask, rights,
                    static_cast<std::uint8_t>(st.off_refs));
      }
      if (!kGuestTable && level == pte::kPt) {
        const std::uint64_t region = key_gpa >> kRegionShift;
        m_ept_pt_memo[memo_slot(region)] = {region, table};  // prefetch()'s, host-side
      }
      return st;
    }
    if (kHpaCaches && !cached) {
      m_pte_cache.fill(entry_hpa >> 3, kEptEntry, updated, 0, 0);
    }
    table = updated & ept::kAddressMask;
    // A non-leaf is at level 2 or above: its cache exists (absent ones ignore the fill).
    m_ept_psc[level - pte::kPd].fill_absent(key_gpa >> pte::index_shift(level), ctx, table, rights,
                                            0);
    --level;
  }
}

template <bool kHpaCaches>
void NestedWalker::walk(const NestedWalkRequest& r, NestedWalkResult& res) {
  using Outcome = NestedWalkResult::Outcome;
  const std::uint64_t va = r.gva.value();
  const std::uint64_t guest_va = va & m_guest_va_mask;
  const bool write = r.kind == AccessKind::kWrite;
  const std::uint64_t gctx = (std::uint64_t{r.vpid} << 16) | r.pcid;
  const std::uint64_t ept_root = r.ept_root.value() & ept::kAddressMask;

  unsigned g = m_n;
  std::uint64_t table_gpa = r.guest_root.value() & pte::kAddressMask;
  std::uint64_t table_hpa = 0;
  bool have_table_hpa = false;
  pte::Rights rights = pte::kAllRights;
  unsigned off = 0;  // references a cache-off walk makes up to here (the guest PSCs' aux)

  // 1. Guest paging-structure caches, deepest first. As with the EPT's: every level below
  // a hit was looked up and missed, and is filled with fill_absent.
  if (m_guest_psc_on) {
#pragma GCC unroll 4
    for (unsigned l = pte::kPd; l <= pte::kPml5; ++l) {
      if (l > m_n) {
        break;
      }
      WalkCache& c = m_guest_psc[l - pte::kPd];
      if (!c.enabled()) {
        continue;
      }
      WalkCacheStats& s = *m_guest_psc_stats[l - pte::kPd];
      if (const WalkCache::Entry* e = c.lookup(guest_va >> pte::index_shift(l), gctx)) {
        ++s.hits;
        s.refs_saved += e->aux;
        table_hpa = e->value;
        rights = e->rights;
        off = e->aux;
        g = l - 1;
        have_table_hpa = true;
        break;
      }
      ++s.misses;
    }
  }

  // 2. The guest levels: each table's GPA through the EPT, then the guest entry.
  std::uint64_t leaf = 0;
  for (;; --g) {
    if (!have_table_hpa) {
      const EptStep s = ept_translate<true, kHpaCaches>(table_gpa, ept_root, g, true, res);
      off += s.off_refs;
      if (!s.ok) {
        res.outcome = Outcome::kEptViolation;
        res.gpa = Gpa(table_gpa | pte::entry_offset(va, g));
        res.fault_level = s.level;
        res.violation_on_guest_table = true;
        res.violation_guest_level = g;
        ++m_stats.ept_violations;
        finish(res);
        return;
      }
      table_hpa = s.hpa & pte::kAddressMask;
      if (g < m_n) {
        // The level g+1 entry's combined mapping: VA bits above it -> this table's HPA.
        m_guest_psc[g + 1 - pte::kPd].fill_absent(guest_va >> pte::index_shift(g + 1), gctx,
                                                  table_hpa, rights,
                                                  static_cast<std::uint8_t>(off));
      }
    }
    have_table_hpa = false;
    if (g == pte::kPt) {
      const std::uint64_t region = guest_va >> kRegionShift;
      m_guest_pt_memo[memo_slot(region)] = {region, table_hpa};  // prefetch()'s, host-side
    }
    const std::uint64_t entry_hpa = table_hpa | pte::entry_offset(va, g);
    bool cached = false;
    const std::uint64_t raw = reference<true, kHpaCaches>(entry_hpa, g, 0, cached, res);
    ++off;
    if ((raw & pte::kPresent) == 0) {
      res.outcome = Outcome::kGuestPageFault;
      res.fault_level = g;
      ++m_stats.guest_faults;
      finish(res);
      return;
    }
    rights &= pte::rights_of(raw);
    const bool is_leaf = pte::is_leaf(raw, g);
    std::uint64_t updated = raw | pte::kAccessed;
    if (is_leaf && write && (rights & pte::kAllowWrite) != 0) {
      updated |= pte::kDirty;
    }
    if (updated != raw) {
      m_memory.write_u64(Hpa(entry_hpa), updated);
      ++m_stats.ad_updates;
    }
    if (is_leaf) {
      leaf = updated;
      break;
    }
    if (kHpaCaches && !cached) {
      m_pte_cache.fill(entry_hpa >> 3, kGuestEntry, updated, 0, 0);
    }
    table_gpa = updated & pte::kAddressMask;
  }

  // 3. The data GPA through the EPT.
  res.guest_size = pte::leaf_page_size(g);
  const std::uint64_t guest_bytes = page_bytes(res.guest_size);
  const std::uint64_t data_gpa =
      (leaf & pte::page_address_mask(res.guest_size)) | (va & (guest_bytes - 1));
  res.gpa = Gpa(data_gpa);
  const EptStep s = ept_translate<false, kHpaCaches>(data_gpa, ept_root, 0, write, res);
  if (!s.ok) {
    res.outcome = Outcome::kEptViolation;
    res.fault_level = s.level;
    ++m_stats.ept_violations;
    finish(res);
    return;
  }
  complete_translation(leaf, rights, s, res);
  finish(res);
}

template void NestedWalker::walk<false>(const NestedWalkRequest& r, NestedWalkResult& res);
template void NestedWalker::walk<true>(const NestedWalkRequest& r, NestedWalkResult& res);

inline void NestedWalker::complete_translation(std::uint64_t guest_leaf, pte::Rights rights,
                                               const EptStep& data, NestedWalkResult& res) const {
  // The TLB may hold only the smaller of the two page sizes: a 2 MiB guest page on 4 KiB
  // EPT pages splinters into 4 KiB translations.
  res.ept_size = pte::leaf_page_size(data.level);
  const PageSize size = res.ept_size < res.guest_size ? res.ept_size : res.guest_size;
  rights &= data.rights;
  Translation& t = res.translation;
  t.size = size;
  t.linear_size = res.guest_size;  // INVLPG removes every piece of the guest's page
  t.page_base = Hpa(data.hpa & ~(page_bytes(size) - 1));
  t.writable = (rights & pte::kAllowWrite) != 0;
  t.user = (rights & pte::kAllowUser) != 0;
  t.executable = (rights & pte::kAllowExecute) != 0;
  t.dirty = (guest_leaf & pte::kDirty) != 0 && (!m_ad || data.leaf_dirty);
}

inline void NestedWalker::finish(NestedWalkResult& res) {
  res.refs = res.guest_refs + res.host_refs;
  ++m_stats.walks;
  m_stats.refs += res.refs;
  m_stats.refs_guest += res.guest_refs;
  m_stats.refs_host += res.host_refs;
  m_stats.cycles += res.cycles.count();
  m_stats.refs_per_walk.sample(res.refs);
  m_stats.cycles_per_walk.sample(res.cycles.count());
}

NestedWalker::EptStep NestedWalker::ept_translate_debug(std::uint64_t gpa, std::uint64_t ept_root,
                                                        unsigned g, NestedWalkResult& res,
                                                        bool access_tracked) const {
  EptStep st;
  std::uint64_t table = ept_root;
  pte::Rights rights = pte::kAllRights;
  for (unsigned level = m_m; level >= 1; --level) {
    std::uint64_t raw = m_memory.read_u64(Hpa(table | pte::entry_offset(gpa, level)));
    if (access_tracked && ept::is_access_tracked(raw)) {
      raw = ept::restore_access_tracked(raw, m_bits);
    }
    debug_ref(g, level, res);
    st.level = level;
    st.off_refs = m_m - level + 1;
    if ((raw & m_bits.present_mask) == 0) {
      return st;
    }
    rights &= ept::rights_of(raw, m_format);
    if (ept::is_leaf(raw, level)) {
      const PageSize size = pte::leaf_page_size(level);
      st.ok = true;
      st.hpa = (raw & pte::page_address_mask(size)) | (gpa & (page_bytes(size) - 1));
      st.rights = rights;
      st.leaf_dirty = (raw & m_bits.dirty) != 0;
      return st;
    }
    table = raw & ept::kAddressMask;
  }
  return st;  // not reached: level-1 entries are leaves
}

NestedWalkResult NestedWalker::translate_debug(const NestedWalkRequest& r,
                                               bool access_tracked) const {
  using Outcome = NestedWalkResult::Outcome;
  NestedWalkResult res;
  const std::uint64_t va = r.gva.value();
  const std::uint64_t ept_root = r.ept_root.value() & ept::kAddressMask;
  std::uint64_t table_gpa = r.guest_root.value() & pte::kAddressMask;
  pte::Rights rights = pte::kAllRights;
  std::uint64_t leaf = 0;
  unsigned g = m_n;
  for (;; --g) {
    const EptStep s = ept_translate_debug(table_gpa, ept_root, g, res, access_tracked);
    if (!s.ok) {
      res.outcome = Outcome::kEptViolation;
      res.gpa = Gpa(table_gpa | pte::entry_offset(va, g));
      res.fault_level = s.level;
      res.violation_on_guest_table = true;
      res.violation_guest_level = g;
      return res;
    }
    const std::uint64_t raw =
        m_memory.read_u64(Hpa((s.hpa & pte::kAddressMask) | pte::entry_offset(va, g)));
    debug_ref(g, 0, res);
    if ((raw & pte::kPresent) == 0) {
      res.outcome = Outcome::kGuestPageFault;
      res.fault_level = g;
      return res;
    }
    rights &= pte::rights_of(raw);
    if (pte::is_leaf(raw, g)) {
      leaf = raw;
      break;
    }
    table_gpa = raw & pte::kAddressMask;
  }
  res.guest_size = pte::leaf_page_size(g);
  const std::uint64_t data_gpa =
      (leaf & pte::page_address_mask(res.guest_size)) | (va & (page_bytes(res.guest_size) - 1));
  res.gpa = Gpa(data_gpa);
  const EptStep s = ept_translate_debug(data_gpa, ept_root, 0, res, access_tracked);
  if (!s.ok) {
    res.outcome = Outcome::kEptViolation;
    res.fault_level = s.level;
    return res;
  }
  complete_translation(leaf, rights, s, res);
  return res;
}

void NestedWalker::invlpg(Gva, std::uint16_t pcid, std::uint16_t vpid) {
  invalidate_pcid(pcid, vpid);
}

void NestedWalker::invalidate_pcid(std::uint16_t pcid, std::uint16_t vpid) {
  const std::uint64_t ctx = (std::uint64_t{vpid} << 16) | pcid;
  for (WalkCache& c : m_guest_psc) {
    c.invalidate_context(~std::uint64_t{0}, ctx);
  }
  m_pte_cache.invalidate_context(~std::uint64_t{0}, kGuestEntry);
}

void NestedWalker::invvpid(std::uint16_t vpid) {
  for (WalkCache& c : m_guest_psc) {
    c.invalidate_context(~std::uint64_t{0xffff}, std::uint64_t{vpid} << 16);
  }
  m_pte_cache.invalidate_context(~std::uint64_t{0}, kGuestEntry);
}

void NestedWalker::set_cpus(unsigned cpus) {
  if (cpus == 0) {
    throw std::invalid_argument("nested walker: at least one vCPU");
  }
  // Each parked set starts as the current one does at power-on: the same geometry, empty.
  CpuCaches empty{m_guest_psc, m_ept_psc, m_ntlb, m_pte_cache};
  for (WalkCache& c : empty.guest_psc) {
    c.invalidate_all();
  }
  for (WalkCache& c : empty.ept_psc) {
    c.invalidate_all();
  }
  empty.ntlb.invalidate_all();
  empty.pte_cache.invalidate_all();
  m_parked.assign(cpus, empty);
  m_cpu = 0;
}

void NestedWalker::swap_with(CpuCaches& c) {
  std::swap(m_guest_psc, c.guest_psc);
  std::swap(m_ept_psc, c.ept_psc);
  std::swap(m_ntlb, c.ntlb);
  std::swap(m_pte_cache, c.pte_cache);
}

void NestedWalker::switch_cpu(unsigned cpu) {
  if (cpu == m_cpu) {
    return;
  }
  if (cpu >= m_parked.size()) {
    throw std::out_of_range("nested walker: vCPU " + std::to_string(cpu) + " of " +
                            std::to_string(m_parked.size()));
  }
  swap_with(m_parked[m_cpu]);  // park the current vCPU's; its slot's empty set comes in
  swap_with(m_parked[cpu]);    // and goes to the new vCPU's slot
  m_cpu = cpu;
}

void NestedWalker::invalidate_pcid_every_cpu(std::uint16_t pcid, std::uint16_t vpid) {
  const unsigned current = m_cpu;
  for (unsigned cpu = 0; cpu < m_parked.size(); ++cpu) {
    switch_cpu(cpu);
    invalidate_pcid(pcid, vpid);
  }
  switch_cpu(current);
  if (m_parked.empty()) {
    invalidate_pcid(pcid, vpid);
  }
}

void NestedWalker::invept(Hpa ept_root) {
  const unsigned current = m_cpu;
  for (unsigned cpu = 0; cpu < m_parked.size(); ++cpu) {
    if (cpu != current) {
      switch_cpu(cpu);
      invept_current(ept_root);
    }
  }
  switch_cpu(current);
  invept_current(ept_root);
}

void NestedWalker::invept_current(Hpa ept_root) {
  const std::uint64_t ctx = (ept_root.value() & ept::kAddressMask) >> 12;
  for (WalkCache& c : m_ept_psc) {
    c.invalidate_context(~std::uint64_t{0}, ctx);
  }
  m_ntlb.invalidate_context(~std::uint64_t{0}, ctx);
  // Combined guest PSC entries hold HPAs found through this EPT; they are tagged by VPID
  // and PCID only (EPTP tagging approximated: docs/design-nested.md), so all go.
  for (WalkCache& c : m_guest_psc) {
    c.invalidate_all();
  }
  m_pte_cache.invalidate_all();
}

void NestedWalker::flush_all() {
  const unsigned current = m_cpu;
  for (unsigned cpu = 0; cpu < m_parked.size(); ++cpu) {
    if (cpu != current) {
      switch_cpu(cpu);
      flush_all_current();
    }
  }
  switch_cpu(current);
  flush_all_current();
}

void NestedWalker::flush_all_current() {
  for (WalkCache& c : m_guest_psc) {
    c.invalidate_all();
  }
  for (WalkCache& c : m_ept_psc) {
    c.invalidate_all();
  }
  m_ntlb.invalidate_all();
  m_pte_cache.invalidate_all();
}

}  // namespace pagesim::walker
