#include "traces/trace_stats.h"

#include <bit>
#include <unordered_set>

#include "traces/trace_reader.h"

namespace pagesim::traces {

namespace {

constexpr unsigned kPageShift = 12;     // 4 KiB
constexpr unsigned kSpaceShift = 52;    // key = space << 52 | 4 KiB page number
constexpr unsigned k2mShift = 21 - 12;  // 4 KiB page number -> 2 MiB
constexpr unsigned k1gShift = 30 - 12;  // 4 KiB page number -> 1 GiB

// Nearest-rank percentile of `counts` (index = value) holding `total` values.
std::uint64_t percentile(const std::vector<std::uint64_t>& counts, std::uint64_t total,
                         unsigned percent) {
  if (total == 0) {
    return 0;
  }
  // The smallest value with at least ceil(percent * total / 100) values at or below it.
  const std::uint64_t rank = (total * percent + 99) / 100;
  std::uint64_t seen = 0;
  for (std::size_t value = 0; value < counts.size(); ++value) {
    seen += counts[value];
    if (seen >= rank) {
      return value;
    }
  }
  return counts.size() - 1;
}

}  // namespace

std::uint64_t TraceStats::space_index() {
  if (m_current_space >= 0) {
    return static_cast<std::uint64_t>(m_current_space);
  }
  // Here after every switch (and before the first access): the current CPU made an access.
  const std::uint64_t cpu_key = m_vm * kMaxCpus + m_cpu_of_vm[m_vm];
  if (!m_cpu_used[cpu_key]) {
    m_cpu_used[cpu_key] = true;
    ++m_counts.cpus;
  }
  const std::uint64_t asid = m_asid_of_cpu[cpu_key];
  std::vector<AddressSpaceStats>& spaces = m_counts.spaces;
  std::size_t i = 0;
  while (i < spaces.size() && (spaces[i].vm != m_vm || spaces[i].asid != asid)) {
    ++i;
  }
  if (i == spaces.size()) {
    if (spaces.size() == kMaxAddressSpaces) {
      throw TraceError("trace stat: more than 4096 address spaces (VM, asid pairs)");
    }
    spaces.push_back(AddressSpaceStats{.vm = m_vm, .asid = asid});
  }
  m_current_space = static_cast<std::int64_t>(i);
  return i;
}

void TraceStats::reference(std::uint64_t space, std::uint64_t page) {
  ++m_references;
  const std::uint64_t distance = m_reuse.reference(space << kSpaceShift | page);
  if (distance == ReuseDistance::kCold) {
    ++m_cold;
    return;
  }
  if (distance >= m_distance_counts.size()) {
    m_distance_counts.resize(distance + 1);
  }
  ++m_distance_counts[distance];
}

void TraceStats::add(std::span<const Record> records) {
  for (const Record& r : records) {
    ++m_counts.records;
    if (r.is_event()) {
      ++m_counts.events[static_cast<unsigned>(r.op)];  // readers check op <= kLastEventOp
      if (r.op == EventOp::kCr3) {
        m_asid_of_cpu[m_vm * kMaxCpus + m_cpu_of_vm[m_vm]] = r.address;
        m_current_space = -1;
      } else if (r.op == EventOp::kVm) {
        m_vm = r.address;  // below kMaxVms (check_event)
        m_current_space = -1;
      } else if (r.op == EventOp::kCpu) {
        m_cpu_of_vm[m_vm] = r.address;  // below kMaxCpus (check_event)
        m_current_space = -1;
      }
      continue;
    }
    ++m_counts.accesses;
    ++m_counts.kinds[static_cast<unsigned>(r.kind)];
    const std::uint64_t space = space_index();
    ++m_counts.spaces[space].accesses;
    const std::uint64_t last_byte =
        r.address + (r.size - 1) < r.address ? ~std::uint64_t{0} : r.address + (r.size - 1);
    for (std::uint64_t page = r.address >> kPageShift; page <= last_byte >> kPageShift; ++page) {
      reference(space, page);
    }
  }
}

TraceSummary TraceStats::summary() const {
  TraceSummary s = m_counts;
  // Footprints from the distinct 4 KiB keys: a 2 MiB (1 GiB) page is the key shifted right
  // by 9 (18) bits, the space index moving down with it, so spaces stay apart.
  std::unordered_set<std::uint64_t> pages_2m;
  std::unordered_set<std::uint64_t> pages_1g;
  for (const auto& [key, slot] : m_reuse.keys()) {
    AddressSpaceStats& space = s.spaces[key >> kSpaceShift];
    ++space.pages_4k;
    if (pages_2m.insert(key >> k2mShift).second) {
      ++space.pages_2m;
    }
    if (pages_1g.insert(key >> k1gShift).second) {
      ++space.pages_1g;
    }
  }
  s.pages_4k = m_reuse.distinct();
  s.pages_2m = pages_2m.size();
  s.pages_1g = pages_1g.size();

  ReuseSummary& reuse = s.reuse;
  reuse.references = m_references;
  reuse.cold = m_cold;
  const std::uint64_t reuses = m_references - m_cold;
  for (std::size_t distance = 0; distance < m_distance_counts.size(); ++distance) {
    const std::uint64_t count = m_distance_counts[distance];
    if (count == 0) {
      continue;
    }
    const std::size_t bucket = distance == 0 ? 0 : std::bit_width(distance);
    if (bucket >= reuse.buckets.size()) {
      reuse.buckets.resize(bucket + 1);
    }
    reuse.buckets[bucket] += count;
    reuse.max = distance;
    reuse.below_64 += distance < 64 ? count : 0;
    reuse.below_1536 += distance < 1536 ? count : 0;
  }
  reuse.p50 = percentile(m_distance_counts, reuses, 50);
  reuse.p90 = percentile(m_distance_counts, reuses, 90);
  reuse.p99 = percentile(m_distance_counts, reuses, 99);
  return s;
}

}  // namespace pagesim::traces
