// One level of TLB: the translations a core has cached, per page size, tagged by PCID and
// VPID. Intel SDM Vol. 3A, 4.10 "Caching Translation Information" (4.10.1 process-context
// identifiers, 4.10.2 TLBs, 4.10.4 invalidation), and Vol. 3C, "VMX Support for Address
// Translation" (VPIDs; INVVPID).
//
// What is modelled
// - Up to three set-associative arrays, as TlbParams configures them (the split arrays of
//   Intel cores): one for 4 KiB pages, one for 2 MiB, one for 1 GiB. An array with
//   entries = 0 is absent. With shared_2m the 4 KiB array also holds 2 MiB pages (the
//   Skylake STLB) and huge_2m is ignored.
// - An entry holds a final Translation (Hpa page base, page size, rights, dirty) for one
//   virtual page, tagged (vpn, pcid, vpid, page size). A lookup matches only its own PCID
//   and VPID: there are no global pages yet (CR4.PGE entries would match every PCID).
// - Set index = virtual page number at the array's page size, modulo the array's sets. An
//   array holding two sizes indexes each by its own VPN, so a lookup probes one set per size.
// - Probe order within a lookup: 4 KiB, then 2 MiB, then 1 GiB (the most common first). A
//   lookup is one hit or one miss of the level whatever the number of arrays probed; the
//   hardware probes them in parallel (the level's `latency` covers it). Should entries of
//   two sizes translate one gva (software changed the page size without INVLPG; SDM
//   4.10.2.3 lets a reference use any of them), the first in this order is used.
// - A translation whose page size has no array here is splintered (SDM 4.10.2.3 allows a
//   TLB to cache a smaller page than the paging structures map): it is stored as the largest
//   smaller size that has an array, covering the inserting gva (page base and size
//   adjusted), e.g. a 1 GiB page in an ITLB without a 1 GiB array becomes one 2 MiB entry.
//   If no array can hold it, nothing is stored (stat fills_dropped).
// - Replacement per TlbParams (true LRU, tree-PLRU, random): see set_assoc.h. An insert of a
//   key already present updates that entry in place; otherwise an invalid way is used
//   before a victim is chosen.
// - Invalidation (SDM 4.10.4.1, and the instruction pages of Vol. 2): every invalidate_*
//   call removes exactly the entries of its scope and counts them (stat invalidations).
//   An entry remembers the size of the linear page it came from (Translation::linear_size):
//   INVLPG of any address in a page held as several smaller entries (a splinter, or a guest
//   2 MiB page over 4 KiB EPT pages) removes all of them (SDM 4.10.2.3 and 4.10.4.1: "all
//   TLB entries for the page"), by a scan of the level taken only while such entries exist.
//
// Lifecycle: lookup() on every access that reaches this level (counts a hit or a miss, a hit
// touches the replacement state); insert() after a walk or a fill from the next level;
// invalidate_*() when the core executes INVLPG / INVPCID / INVVPID / MOV CR3 or the
// hypervisor flushes; probe() and for_each_entry() for debug and --check (no side effects
// at all).
//
// Invariants and units: pcid is 12 bits (higher bits are ignored), vpid 16 bits (0 is the
// host / VMX root operation, as on the hardware). Pointers returned by lookup(), probe()
// and insert() stay valid until the next insert() or invalidate_*() on this TLB. No
// allocation after construction.
#pragma once

#include <array>
#include <bit>
#include <cassert>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "base/address.h"
#include "base/cycles.h"
#include "base/page_size.h"
#include "base/stats/stats.h"
#include "base/translation.h"
#include "models/tlb/set_assoc.h"
#include "models/tlb/tlb_params.h"

namespace pagesim::tlb {

struct TlbStats : stats::Group {
  using Group::Group;
  stats::Counter hits{*this, "hits", "lookups that matched an entry"};
  stats::Counter misses{*this, "misses", "lookups that matched no entry"};
  stats::Counter hits_4k{*this, "hits_4k", "hits on a 4 KiB entry"};
  stats::Counter hits_2m{*this, "hits_2m", "hits on a 2 MiB entry"};
  stats::Counter hits_1g{*this, "hits_1g", "hits on a 1 GiB entry"};
  stats::Counter fills{*this, "fills", "translations stored (new entries and in-place updates)"};
  stats::Counter fills_4k{*this, "fills_4k", "fills stored as 4 KiB entries"};
  stats::Counter fills_2m{*this, "fills_2m", "fills stored as 2 MiB entries"};
  stats::Counter fills_1g{*this, "fills_1g", "fills stored as 1 GiB entries"};
  stats::Counter splinters{*this, "splinters",
                           "fills stored as a smaller page than the translation's, for want "
                           "of an array of its size at this level"};
  stats::Counter fills_dropped{*this, "fills_dropped",
                               "translations not stored: no array here holds their size or "
                               "a smaller one"};
  stats::Counter evictions{*this, "evictions", "valid entries replaced by a fill"};
  stats::Counter invalidations{*this, "invalidations",
                               "entries removed by INVLPG, INVPCID, INVVPID or a flush"};
  stats::Formula hit_rate{*this, "hit_rate", "hits / lookups", [this] {
                            return stats::ratio(static_cast<double>(hits.value()),
                                                static_cast<double>(hits.value() + misses.value()));
                          }};
};

class Tlb {
 public:
  // `seed` drives kRandom replacement; the stats group is `name` under `parent` (parent may
  // be null for a stand-alone TLB, e.g. in a test).
  Tlb(const TlbParams& params, std::uint64_t seed, stats::Group* parent, std::string name);
  Tlb(const Tlb&) = delete;
  Tlb& operator=(const Tlb&) = delete;

  // The entry that translates gva in (pcid, vpid), or null. Counts a hit or a miss; a hit
  // touches the replacement state. The hot path of the simulator.
  const Translation* lookup(Gva gva, std::uint16_t pcid, std::uint16_t vpid);
  // The same answer as lookup(), with no side effects (no stats, no replacement update).
  const Translation* probe(Gva gva, std::uint16_t pcid, std::uint16_t vpid) const;
  // The entry lookup() would return through its same-page fast path (the entry of the last
  // hit, for gva's 4 KiB page in (pcid, vpid), nothing inserted or invalidated since), or
  // null. No side effects.
  const Translation* last_hit(Gva gva, std::uint16_t pcid, std::uint16_t vpid) const {
    return (gva.value() >> 12) == m_last_page && context_tag(pcid, vpid) == m_last_context
               ? m_last
               : nullptr;
  }
  // Exactly what `n` lookups answered by last_hit() count (their hits); they would touch
  // nothing (see m_last). For a run of accesses to one page (the core's same-page path).
  void repeat_last_hit(std::uint64_t n) {
    assert(m_last_context != 0);
    m_stats.hits += n;
    *m_last_hits += n;
  }

  // Stores the translation of the page containing gva (t.page_base aligned to t.size),
  // splintered when this level has no array for t.size. Returns the stored entry, or null
  // when no array can hold it. t may refer to an entry of this TLB. Defined in this header:
  // the fill after a miss into a full array of the translation's size (every fill once the
  // TLB has filled up, no splinter); the other cases in tlb.cc (insert_general).
  const Translation* insert(Gva gva, std::uint16_t pcid, std::uint16_t vpid, const Translation& t);

  // Every entry. INVVPID all-context (type 2); INVPCID all-context (types 2 and 3, no global
  // pages modelled) outside VMX non-root operation; INVEPT, whose combined mappings may
  // belong to any VPID (entries are not tagged by EPTP here, so all of them go).
  void invalidate_all();
  // Every entry of (pcid, vpid): INVPCID single-context (type 1); MOV to CR3 with
  // CR4.PCIDE = 0 (invalidate_pcid(0, vpid): every entry then has PCID 000H) or with
  // PCIDE = 1 and bit 63 clear (the new PCID). SDM 4.10.4.1.
  void invalidate_pcid(std::uint16_t pcid, std::uint16_t vpid);
  // Every entry of (pcid, vpid) that translates gva, whatever its page size: INVLPG (the
  // current PCID) and INVPCID individual-address (type 0). SDM 4.10.4.1.
  void invalidate_page(Gva gva, std::uint16_t pcid, std::uint16_t vpid);
  // Every entry of vpid that translates gva, in any PCID: INVVPID individual-address
  // (type 0). The INVVPID page of SDM Vol. 2 and Vol. 3C's guidelines for its use.
  void invalidate_page_vpid(Gva gva, std::uint16_t vpid);
  // Every entry of vpid: INVVPID single-context (types 1 and 3, no globals modelled), and
  // INVPCID all-context (types 2 and 3) executed by a guest with that VPID.
  void invalidate_vpid(std::uint16_t vpid);

  // Cycles a lookup at this level adds (TlbParams::latency).
  Cycles latency() const { return m_params.latency; }
  const TlbParams& params() const { return m_params; }
  const TlbStats& stats() const { return m_stats; }
  // Valid entries, counted over all arrays (tests, debug).
  std::uint64_t occupancy() const;
  // Valid entries stored at page size s (as the lookup keeps count of them).
  std::uint64_t occupancy(PageSize s) const { return m_valid_by_size[static_cast<std::size_t>(s)]; }

  // Calls f(const Translation& t, std::uint16_t pcid, std::uint16_t vpid) once for every
  // valid entry of every array (4 KiB, 2 MiB, 1 GiB), in no particular order: t as stored
  // (t.page_base the host-physical base of a t.size page; a splintered entry is its piece),
  // pcid and vpid its tags (pcid 12 bits). Read-only: no stats, no replacement update. For
  // --check's audit that no entry still refers to a freed host frame: O(entries), off the
  // hot path. f must not insert into or invalidate this TLB.
  template <class F>
  void for_each_entry(F&& f) const {
    for (const Array* a : {&m_small, &m_huge_2m, &m_huge_1g}) {
      a->for_each_valid([&f](std::uint32_t tag, const Translation& t) {
        f(t, static_cast<std::uint16_t>(tag & kPcidMask),
          static_cast<std::uint16_t>((tag & kVpidMask) >> 12));
      });
    }
  }

 private:
  // Tag bits beside the VPN: 0 means an invalid entry, which no lookup tag equals.
  static constexpr std::uint32_t kPcidMask = 0x0000'0fffu;  // bits 0-11
  static constexpr std::uint32_t kVpidMask = 0x0fff'f000u;  // bits 12-27
  static constexpr std::uint32_t kSizeMask = 0x3000'0000u;  // bits 28-29: PageSize
  static constexpr std::uint32_t kValid = 0x8000'0000u;     // bit 31
  static constexpr std::uint32_t kContextMask = kValid | kVpidMask | kPcidMask;

  static constexpr std::uint32_t vpid_tag(std::uint16_t vpid) {
    return kValid | (std::uint32_t{vpid} << 12);
  }
  static constexpr std::uint32_t context_tag(std::uint16_t pcid, std::uint16_t vpid) {
    return vpid_tag(vpid) | (std::uint32_t{pcid} & kPcidMask);
  }
  static constexpr std::uint32_t size_tag(PageSize s) {
    return static_cast<std::uint32_t>(s) << 28;
  }
  static constexpr std::size_t size_of_tag(std::uint32_t tag) { return (tag & kSizeMask) >> 28; }

  // The tag side of an entry; the translation is kept apart (structure of arrays), so that
  // scanning a set reads 16 bytes per way and only a hit reads the Translation.
  struct Key {
    std::uint64_t vpn = 0;  // virtual page number at the entry's page size
    std::uint32_t tag = 0;  // kValid | size | vpid | pcid; 0: invalid
    // fractured() of the entry's translation, kept beside the tag (in the padding) so that a
    // fill learns it of its victim from the set it scans, without loading the translation.
    bool fractured = false;
  };
  static_assert(sizeof(Key) == 16, "a set scan reads 16 bytes a way");

  // One set-associative array: keys and translations set-major, replacement state beside.
  class Array {
   public:
    Array(const TlbArrayParams& p, Replacement policy, std::uint64_t seed);
    bool present() const { return !m_keys.empty(); }

    // The translation with this vpn and tag, touched, or null.
    Translation* find_touch(std::uint64_t vpn, std::uint32_t tag) {
      const std::uint64_t set = m_geometry.set_of(vpn);
      const std::uint64_t first = m_geometry.slot(set, 0);
      const Key* ways = &m_keys[first];
      const std::uint32_t n = m_geometry.ways();
      // Compare every way without an early exit: which way hits is data, and a branch on it
      // mispredicts on most streams; the one branch left (hit or miss) predicts well.
      const std::uint32_t hit = scan(ways, n, vpn, tag);
      if (hit == n) {
        return nullptr;
      }
      m_geometry.touch(set, hit);
      return &m_translations[first + hit];
    }
    const Translation* find(std::uint64_t vpn, std::uint32_t tag) const;

    // The way of `ways` (n of them) holding (vpn, tag), or n. Every way is compared with no
    // early exit; the common associativities get a loop of known length, fully unrolled.
    template <std::uint32_t N>
    static std::uint32_t scan_fixed(const Key* ways, std::uint64_t vpn, std::uint32_t tag) {
      std::uint32_t hit = N;
      for (std::uint32_t w = 0; w < N; ++w) {
        hit = ((ways[w].vpn == vpn) & (ways[w].tag == tag)) ? w : hit;
      }
      return hit;
    }
    static std::uint32_t scan(const Key* ways, std::uint32_t n, std::uint64_t vpn,
                              std::uint32_t tag) {
      // Tested in this order, the L1's 4 ways first, then the STLB's 12 (Skylake's).
      if (n == 4) {
        return scan_fixed<4>(ways, vpn, tag);
      }
      if (n == 12) {
        return scan_fixed<12>(ways, vpn, tag);
      }
      switch (n) {
        case 8:
          return scan_fixed<8>(ways, vpn, tag);
        default: {
          std::uint32_t hit = n;
          for (std::uint32_t w = 0; w < n; ++w) {
            hit = ((ways[w].vpn == vpn) & (ways[w].tag == tag)) ? w : hit;
          }
          return hit;
        }
      }
    }

    // fill()'s pass over a set of N ways: the way holding (vpn, tag) and the lowest invalid
    // way (each N when there is none), every way compared with no early exit.
    template <std::uint32_t N>
    static void fill_scan(const Key* ways, std::uint64_t vpn, std::uint32_t tag,
                          std::uint32_t& target, std::uint32_t& first_invalid) {
      for (std::uint32_t w = N; w-- > 0;) {
        target = ((ways[w].vpn == vpn) & (ways[w].tag == tag)) ? w : target;
        first_invalid = ways[w].tag == 0 ? w : first_invalid;
      }
    }

    struct Filled {
      Translation* entry;
      bool in_place;              // the key was present and is updated
      std::uint32_t evicted_tag;  // the victim's tag; 0 if the slot was invalid or in place
      bool replaced_fractured;    // the valid entry overwritten (in place or evicted) was one
    };
    // Stores (vpn, tag) -> t: in place if present, else in an invalid way, else over a
    // victim. Touches the way. (A fill the caller knows to be absent into a full() array
    // takes replace() instead.)
    Filled fill(std::uint64_t vpn, std::uint32_t tag, const Translation& t);
    // Every way of every set valid: a fill of an absent key replaces a victim.
    bool full() const { return m_valid == m_capacity; }
    // fill() of a (vpn, tag) the caller knows is absent, into a full() array: over the
    // victim, touched, with no pass over the set (what fill() does in that case). `old`
    // gets the victim's key (valid: the array is full).
    Translation* replace(std::uint64_t vpn, std::uint32_t tag, bool is_fractured,
                         const Translation& t, Key& old) {
      const std::uint64_t set = m_geometry.set_of(vpn);
      const std::uint64_t slot = m_geometry.slot(set, m_geometry.replace(set));
      old = m_keys[slot];
      m_keys[slot] = Key{vpn, tag, is_fractured};
      m_translations[slot] = t;
      return &m_translations[slot];
    }
    // What an invalidation removed: entries per stored page size, and how many of them were
    // fractured (a piece of a larger page, see fractured()).
    struct Removed {
      std::array<std::uint64_t, kPageSizeCount> by_size{};
      std::uint64_t fractured = 0;
    };
    // Invalidates the entries of vpn's set with (tag & mask) == value and this vpn.
    void invalidate_in_set(std::uint64_t vpn, std::uint32_t mask, std::uint32_t value,
                           Removed& removed);
    // Invalidates every entry with (tag & mask) == value.
    void invalidate_matching(std::uint32_t mask, std::uint32_t value, Removed& removed);
    // Invalidates every fractured entry with (tag & mask) == value whose linear page
    // contains gva (INVLPG of one piece of a splintered page: SDM 4.10.2.3). A scan of the
    // whole array: taken only while fractured entries exist.
    void invalidate_fractured(std::uint64_t gva, std::uint32_t mask, std::uint32_t value,
                              Removed& removed);
    std::uint64_t occupancy() const;
    // f(tag, translation) for every valid entry, slot order (for_each_entry).
    template <class F>
    void for_each_valid(F&& f) const {
      for (std::size_t i = 0; i < m_keys.size(); ++i) {
        if (m_keys[i].tag != 0) {
          f(m_keys[i].tag, m_translations[i]);
        }
      }
    }

   private:
    std::vector<Key> m_keys;  // empty: the array is absent
    std::vector<Translation> m_translations;
    SetAssoc m_geometry;
    std::uint64_t m_valid = 0;     // valid entries: all of them, no fill looks for an invalid way
    std::uint64_t m_capacity = 0;  // entries (m_keys.size())
  };

  // One (array, page size) pair a lookup probes, in probe order.
  struct Probe {
    Array* array = nullptr;
    PageSize size = PageSize::k4K;
    unsigned shift = 12;  // page_shift of the size
    std::uint32_t size_bits = 0;
    stats::Counter* hits = nullptr;
  };
  // Where a translation of some page size is stored: the array and the (maybe smaller) size.
  struct Home {
    Array* array = nullptr;
    PageSize size = PageSize::k4K;
    unsigned shift = 12;              // page_shift of the size
    std::uint32_t size_bits = 0;      // size_tag(size)
    stats::Counter* fills = nullptr;  // the fills_* counter of the size
  };
  // page_bytes(a) > page_bytes(b): the enumerators go up with the size (base/page_size.h).
  static constexpr bool larger(PageSize a, PageSize b) {
    return static_cast<unsigned>(a) > static_cast<unsigned>(b);
  }
  static_assert(PageSize::k4K < PageSize::k2M && PageSize::k2M < PageSize::k1G);

  Array* array_holding(PageSize s);
  // A fill of (vpn, tag), absent from `array`, whose ways are all valid: the victim
  // replaced, the eviction and the counts per size and of fractured entries kept.
  const Translation* replace_victim(Array& array, std::uint64_t vpn, std::uint32_t tag,
                                    PageSize stored_size, const Translation& stored);
  const Translation* insert_general(Gva gva, std::uint16_t pcid, std::uint16_t vpid,
                                    const Translation& t);
  void invalidate_everywhere(std::uint32_t mask, std::uint32_t value);
  // INVLPG / INVVPID individual-address: gva's entries at every stored size, and every
  // piece of a larger page that contains gva.
  void invalidate_address(Gva gva, std::uint32_t mask, std::uint32_t context);
  void account(const Array::Removed& removed);
  // A stored entry that is a piece of a larger linear page: a TLB splinter, or a combined
  // guest-2M-over-host-4K translation.
  static bool fractured(const Translation& t) { return larger(t.linear_size, t.size); }

  TlbParams m_params;
  TlbStats m_stats;
  Array m_small;    // 4 KiB (and 2 MiB with shared_2m)
  Array m_huge_2m;  // 2 MiB
  Array m_huge_1g;  // 1 GiB
  std::array<Probe, kPageSizeCount> m_probes{};
  std::uint32_t m_probe_count = 0;
  std::array<Home, kPageSizeCount> m_home{};
  // Valid entries stored at each page size. Each size lives in one array, so a lookup skips
  // the probe of a size with none: a 4 KiB-only stream misses in one set scan per level.
  std::array<std::uint64_t, kPageSizeCount> m_valid_by_size{};
  // The probes (bit i: m_probes[i]) of the sizes with valid entries, which a lookup takes
  // in probe order; each size's bit (0 for a size no probe takes). Kept with m_valid_by_size.
  std::uint32_t m_live = 0;
  std::array<std::uint32_t, kPageSizeCount> m_probe_bit{};
  void update_live();
  // Valid fractured entries: while there are none, INVLPG probes one set per size.
  std::uint64_t m_fractured = 0;
  // The same-page fast path: the entry the last lookup hit, for the 4 KiB page and context
  // of that lookup, while no insert or invalidation has happened since (forget_last()).
  // Nothing else touches the replacement state, so that entry is still the most recently
  // used of its array and a second touch would change no victim choice (LRU: order of the
  // stamps; tree-PLRU: the same node bits; random: no state): a hit on it counts its two
  // counters and skips the scan and the touch. Keyed by the 4 KiB page even for a larger
  // entry, since the lookup that found it probed the smaller sizes first and found none.
  const Translation* m_last = nullptr;
  std::uint64_t m_last_page = 0;          // gva >> 12 of that lookup
  std::uint32_t m_last_context = 0;       // 0 (no context tag is): no such entry (m_last stale)
  stats::Counter* m_last_hits = nullptr;  // the per-size hit counter of the entry's probe
  // The 4 KiB page and context of the last lookup, when it missed, while no insert or
  // invalidation has happened since: no array holds an entry for that page and context at
  // any size (the lookup probed every size that has entries), so an insert for them
  // (after the walk, or the L2's fill of the L1) need not look for the key in the set.
  std::uint64_t m_missed_page = 0;
  std::uint32_t m_missed_context = 0;  // 0 (no context tag is): no such lookup
  void forget_last() {
    m_last_context = 0;
    m_missed_context = 0;
  }
};

// Inline: every access takes it, and an L1 hit is a few dozen instructions (one set scan,
// one replacement touch, two counters); sizes with no valid entry are not probed.
inline const Translation* Tlb::lookup(Gva gva, std::uint16_t pcid, std::uint16_t vpid) {
  const std::uint32_t context = context_tag(pcid, vpid);
  const std::uint64_t page = gva.value() >> 12;
  if (page == m_last_page && context == m_last_context) {
    ++m_stats.hits;  // the page of the last hit, nothing changed since: see m_last
    ++*m_last_hits;
    return m_last;
  }
  for (std::uint32_t live = m_live; live != 0; live &= live - 1) {
    const Probe& p = m_probes[std::countr_zero(live)];
    if (const Translation* t = p.array->find_touch(gva.value() >> p.shift, context | p.size_bits)) {
      ++m_stats.hits;
      ++*p.hits;
      m_last = t;
      m_last_page = page;
      m_last_context = context;
      m_last_hits = p.hits;
      return t;
    }
  }
  ++m_stats.misses;
  m_missed_page = page;
  m_missed_context = context;
  return nullptr;
}

inline const Translation* Tlb::insert(Gva gva, std::uint16_t pcid, std::uint16_t vpid,
                                      const Translation& t) {
  const std::uint32_t context = context_tag(pcid, vpid);
  const Home& home = m_home[static_cast<std::size_t>(t.size)];
  // The lookup just before missed this page in this context (m_missed_*): the key is absent,
  // and with every way valid the fill replaces a victim with no pass over the set.
  if (!((gva.value() >> 12) == m_missed_page && context == m_missed_context &&
        home.array != nullptr && home.size == t.size && home.array->full())) {
    return insert_general(gva, pcid, vpid, t);
  }
  forget_last();
  assert(t.page_base.page_offset(page_shift(t.size)) == 0);
  Translation stored = t;  // a copy: t may be an entry of this TLB that the fill overwrites
  if (larger(stored.size, stored.linear_size)) {
    stored.linear_size = stored.size;  // a linear page is never smaller than its translation
  }
  ++m_stats.fills;
  ++*home.fills;
  return replace_victim(*home.array, gva.value() >> home.shift, context | home.size_bits, home.size,
                        stored);
}

inline const Translation* Tlb::replace_victim(Array& array, std::uint64_t vpn, std::uint32_t tag,
                                              PageSize stored_size, const Translation& stored) {
  const bool stored_fractured = fractured(stored);
  Key old;
  const Translation* entry = array.replace(vpn, tag, stored_fractured, stored, old);
  ++m_stats.evictions;
  m_fractured += stored_fractured ? 1 : 0;
  m_fractured -= old.fractured ? 1 : 0;
  // The counts per size change only when the victim was of another size.
  const auto size = static_cast<std::size_t>(stored_size);
  const std::size_t old_size = size_of_tag(old.tag);
  if (old_size != size) {
    ++m_valid_by_size[size];
    m_live |= m_probe_bit[size];
    if (--m_valid_by_size[old_size] == 0) {
      m_live &= ~m_probe_bit[old_size];
    }
  }
  return entry;
}

}  // namespace pagesim::tlb
