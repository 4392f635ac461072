#include "models/tlb/tlb.h"

#include <stdexcept>
#include <utility>

namespace pagesim::tlb {
namespace {

std::uint64_t sets_of(const TlbArrayParams& p) {
  if (p.entries == 0) {
    return 1;  // absent array: a placeholder geometry, never indexed
  }
  if (p.ways == 0 || p.entries % p.ways != 0) {
    throw std::invalid_argument(std::to_string(p.entries) + " TLB entries is not divisible by " +
                                std::to_string(p.ways) + " ways");
  }
  return p.entries / p.ways;
}

constexpr std::array<PageSize, kPageSizeCount> kSizesInProbeOrder = {PageSize::k4K, PageSize::k2M,
                                                                     PageSize::k1G};

}  // namespace

Tlb::Array::Array(const TlbArrayParams& p, Replacement policy, std::uint64_t seed)
    : m_keys(p.entries),
      m_translations(p.entries),
      m_geometry(sets_of(p), p.entries == 0 ? 1 : p.ways, policy, seed),
      m_capacity(p.entries) {}

const Translation* Tlb::Array::find(std::uint64_t vpn, std::uint32_t tag) const {
  const std::uint64_t first = m_geometry.slot(m_geometry.set_of(vpn), 0);
  const std::uint32_t hit = scan(&m_keys[first], m_geometry.ways(), vpn, tag);
  return hit == m_geometry.ways() ? nullptr : &m_translations[first + hit];
}

Tlb::Array::Filled Tlb::Array::fill(std::uint64_t vpn, std::uint32_t tag, const Translation& t) {
  const std::uint64_t set = m_geometry.set_of(vpn);
  const std::uint64_t first = m_geometry.slot(set, 0);
  const Key* ways = &m_keys[first];
  const std::uint32_t n = m_geometry.ways();
  // The way holding the key (present: update in place, no duplicate) and the lowest invalid
  // way, in one pass with no branch on the data (no tag equals an invalid way's 0).
  std::uint32_t target = n;
  std::uint32_t first_invalid = n;
  switch (n) {  // the common associativities unrolled, as scan()
    case 4:
      fill_scan<4>(ways, vpn, tag, target, first_invalid);
      break;
    case 8:
      fill_scan<8>(ways, vpn, tag, target, first_invalid);
      break;
    case 12:
      fill_scan<12>(ways, vpn, tag, target, first_invalid);
      break;
    default:
      for (std::uint32_t w = n; w-- > 0;) {
        target = ((ways[w].vpn == vpn) & (ways[w].tag == tag)) ? w : target;
        first_invalid = ways[w].tag == 0 ? w : first_invalid;
      }
  }
  const bool in_place = target != n;
  if (!in_place) {
    target = first_invalid != n ? first_invalid : m_geometry.victim(set);
  }
  const std::uint32_t evicted_tag = in_place ? 0 : ways[target].tag;
  m_valid += ways[target].tag == 0 ? 1 : 0;
  const bool replaced_fractured = ways[target].tag != 0 && ways[target].fractured;
  m_keys[first + target] = Key{vpn, tag, Tlb::fractured(t)};
  m_translations[first + target] = t;
  m_geometry.touch(set, target);
  return Filled{&m_translations[first + target], in_place, evicted_tag, replaced_fractured};
}

void Tlb::Array::invalidate_in_set(std::uint64_t vpn, std::uint32_t mask, std::uint32_t value,
                                   Removed& removed) {
  const std::uint64_t first = m_geometry.slot(m_geometry.set_of(vpn), 0);
  for (std::uint32_t w = 0; w < m_geometry.ways(); ++w) {
    Key& k = m_keys[first + w];
    if (k.vpn == vpn && k.tag != 0 && (k.tag & mask) == value) {
      ++removed.by_size[size_of_tag(k.tag)];
      removed.fractured += Tlb::fractured(m_translations[first + w]) ? 1 : 0;
      k.tag = 0;
      --m_valid;
    }
  }
}

void Tlb::Array::invalidate_matching(std::uint32_t mask, std::uint32_t value, Removed& removed) {
  for (std::size_t i = 0; i < m_keys.size(); ++i) {
    Key& k = m_keys[i];
    if (k.tag != 0 && (k.tag & mask) == value) {
      ++removed.by_size[size_of_tag(k.tag)];
      removed.fractured += Tlb::fractured(m_translations[i]) ? 1 : 0;
      k.tag = 0;
      --m_valid;
    }
  }
}

void Tlb::Array::invalidate_fractured(std::uint64_t gva, std::uint32_t mask, std::uint32_t value,
                                      Removed& removed) {
  for (std::size_t i = 0; i < m_keys.size(); ++i) {
    Key& k = m_keys[i];
    const Translation& t = m_translations[i];
    if (k.tag == 0 || (k.tag & mask) != value || !Tlb::fractured(t)) {
      continue;
    }
    // The entry's linear page: its own page number at the stored size, widened.
    const unsigned linear_shift = page_shift(t.linear_size);
    const std::uint64_t entry_va = k.vpn << page_shift(static_cast<PageSize>(size_of_tag(k.tag)));
    if ((entry_va >> linear_shift) == (gva >> linear_shift)) {
      ++removed.by_size[size_of_tag(k.tag)];
      ++removed.fractured;
      k.tag = 0;
      --m_valid;
    }
  }
}

std::uint64_t Tlb::Array::occupancy() const {
  std::uint64_t valid = 0;
  for (const Key& k : m_keys) {
    valid += k.tag != 0 ? 1 : 0;
  }
  return valid;
}

Tlb::Tlb(const TlbParams& params, std::uint64_t seed, stats::Group* parent, std::string name)
    : m_params(params),
      m_stats(parent, std::move(name)),
      m_small(params.small, params.replacement, derive_seed(seed, 0)),
      m_huge_2m(params.shared_2m ? TlbArrayParams{} : params.huge_2m, params.replacement,
                derive_seed(seed, 1)),
      m_huge_1g(params.huge_1g, params.replacement, derive_seed(seed, 2)) {
  const std::array<stats::Counter*, kPageSizeCount> hits = {&m_stats.hits_4k, &m_stats.hits_2m,
                                                            &m_stats.hits_1g};
  const std::array<stats::Counter*, kPageSizeCount> fills = {&m_stats.fills_4k, &m_stats.fills_2m,
                                                             &m_stats.fills_1g};
  for (PageSize s : kSizesInProbeOrder) {
    if (Array* a = array_holding(s)) {
      m_probe_bit[static_cast<std::size_t>(s)] = std::uint32_t{1} << m_probe_count;
      m_probes[m_probe_count++] =
          Probe{a, s, page_shift(s), size_tag(s), hits[static_cast<std::size_t>(s)]};
    }
  }
  // Each size's home: its own array, else the largest smaller size with one.
  for (int s = 0; s < kPageSizeCount; ++s) {
    for (int smaller = s; smaller >= 0; --smaller) {
      if (Array* a = array_holding(static_cast<PageSize>(smaller))) {
        const auto size = static_cast<PageSize>(smaller);
        m_home[static_cast<std::size_t>(s)] = Home{a, size, page_shift(size), size_tag(size),
                                                   fills[static_cast<std::size_t>(smaller)]};
        break;
      }
    }
  }
}

Tlb::Array* Tlb::array_holding(PageSize s) {
  Array* a = nullptr;
  switch (s) {
    case PageSize::k4K:
      a = &m_small;
      break;
    case PageSize::k2M:
      a = m_params.shared_2m ? &m_small : &m_huge_2m;
      break;
    case PageSize::k1G:
      a = &m_huge_1g;
      break;
  }
  return a->present() ? a : nullptr;
}

const Translation* Tlb::probe(Gva gva, std::uint16_t pcid, std::uint16_t vpid) const {
  const std::uint32_t context = context_tag(pcid, vpid);
  for (std::uint32_t i = 0; i < m_probe_count; ++i) {
    const Probe& p = m_probes[i];
    if (const Translation* t = p.array->find(gva.value() >> p.shift, context | p.size_bits)) {
      return t;
    }
  }
  return nullptr;
}

const Translation* Tlb::insert_general(Gva gva, std::uint16_t pcid, std::uint16_t vpid,
                                       const Translation& t) {
  const std::uint32_t context = context_tag(pcid, vpid);
  // The lookup just before missed this page in this context (m_missed_*): the key is absent.
  const bool absent = (gva.value() >> 12) == m_missed_page && context == m_missed_context;
  forget_last();
  const Home& home = m_home[static_cast<std::size_t>(t.size)];
  if (home.array == nullptr) {
    ++m_stats.fills_dropped;
    return nullptr;
  }
  assert(t.page_base.page_offset(page_shift(t.size)) == 0);
  Translation stored = t;  // a copy: t may be an entry of this TLB that the fill overwrites
  if (larger(stored.size, stored.linear_size)) {
    stored.linear_size = stored.size;  // a linear page is never smaller than its translation
  }
  if (home.size != t.size) {
    // The piece of the page that covers gva: gva's offset in the page, rounded down to the
    // stored size, added to the page base (SDM 4.10.2.3: a smaller-page entry's page number
    // and frame correspond to the smaller page).
    const std::uint64_t piece = gva.page_offset(page_shift(t.size)) & ~(page_bytes(home.size) - 1);
    stored.page_base = t.page_base + piece;
    stored.size = home.size;
    ++m_stats.splinters;
  }
  ++m_stats.fills;
  ++*home.fills;
  const std::uint64_t vpn = gva.value() >> home.shift;
  const std::uint32_t tag = context | home.size_bits;
  const bool stored_fractured = fractured(stored);
  const auto size = static_cast<std::size_t>(home.size);
  if (absent && home.array->full()) {
    // A splinter (the inline insert() takes the rest of this case): the same as there.
    return replace_victim(*home.array, vpn, tag, home.size, stored);
  }
  const Array::Filled filled = home.array->fill(vpn, tag, stored);
  if (!filled.in_place) {
    ++m_valid_by_size[size];
    m_live |= m_probe_bit[size];
  }
  m_fractured += stored_fractured ? 1 : 0;
  m_fractured -= filled.replaced_fractured ? 1 : 0;
  if (filled.evicted_tag != 0) {
    ++m_stats.evictions;
    if (--m_valid_by_size[size_of_tag(filled.evicted_tag)] == 0) {
      m_live &= ~m_probe_bit[size_of_tag(filled.evicted_tag)];
    }
  }
  return filled.entry;
}

void Tlb::update_live() {
  m_live = 0;
  for (std::size_t s = 0; s < kPageSizeCount; ++s) {
    m_live |= m_valid_by_size[s] != 0 ? m_probe_bit[s] : 0;
  }
}

void Tlb::account(const Array::Removed& removed) {
  forget_last();  // every invalidation ends here
  for (std::size_t s = 0; s < removed.by_size.size(); ++s) {
    m_valid_by_size[s] -= removed.by_size[s];
    m_stats.invalidations += removed.by_size[s];
  }
  update_live();
  m_fractured -= removed.fractured;
}

void Tlb::invalidate_everywhere(std::uint32_t mask, std::uint32_t value) {
  Array::Removed removed;
  for (Array* a : {&m_small, &m_huge_2m, &m_huge_1g}) {
    a->invalidate_matching(mask, value, removed);
  }
  account(removed);
}

void Tlb::invalidate_all() { invalidate_everywhere(kValid, kValid); }

void Tlb::invalidate_pcid(std::uint16_t pcid, std::uint16_t vpid) {
  invalidate_everywhere(kContextMask, context_tag(pcid, vpid));
}

void Tlb::invalidate_vpid(std::uint16_t vpid) {
  invalidate_everywhere(kValid | kVpidMask, vpid_tag(vpid));
}

void Tlb::invalidate_address(Gva gva, std::uint32_t mask, std::uint32_t context) {
  Array::Removed removed;
  for (std::uint32_t i = 0; i < m_probe_count; ++i) {
    const Probe& p = m_probes[i];
    p.array->invalidate_in_set(gva.value() >> p.shift, mask | kSizeMask, context | p.size_bits,
                               removed);
  }
  m_fractured -= removed.fractured;
  if (m_fractured != 0) {
    for (Array* a : {&m_small, &m_huge_2m, &m_huge_1g}) {
      if (a->present()) {
        a->invalidate_fractured(gva.value(), mask, context, removed);
      }
    }
  }
  m_fractured += removed.fractured;  // account() takes every fractured entry removed once
  account(removed);
}

void Tlb::invalidate_page(Gva gva, std::uint16_t pcid, std::uint16_t vpid) {
  invalidate_address(gva, kContextMask, context_tag(pcid, vpid));
}

void Tlb::invalidate_page_vpid(Gva gva, std::uint16_t vpid) {
  invalidate_address(gva, kValid | kVpidMask, vpid_tag(vpid));
}

std::uint64_t Tlb::occupancy() const {
  return m_small.occupancy() + m_huge_2m.occupancy() + m_huge_1g.occupancy();
}

}  // namespace pagesim::tlb
