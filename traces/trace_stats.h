// What `pagesim trace stat` measures over a trace, streaming: accesses by kind, events by
// kind, the footprint in 4 KiB, 2 MiB and 1 GiB pages, pages per address space, and the
// 4 KiB-page reuse distance (reuse_distance.h) as exact percentiles and a histogram.
//
// Address spaces are told apart as the simulator does (record.h): a `!cr3 <asid>` switches
// the current CPU's address space, a `!cpu <n>` the current VM's CPU, a `!vm <n>` the
// current VM (each VM keeps its current CPU, each CPU its address space; everything starts
// in VM 0, CPU 0, address space 0). A page is a (VM, address space, page number): the same
// virtual page in two address spaces counts twice, in the footprint and in the reuse
// stream. An access touches every 4 KiB page from its first byte to its last; each touched
// page is one reference. Memory is proportional to the distinct pages, not to the length of
// the trace (about 60 bytes per 4 KiB page).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "traces/record.h"
#include "traces/reuse_distance.h"

namespace pagesim::traces {

struct AddressSpaceStats {
  std::uint64_t vm = 0;
  std::uint64_t asid = 0;
  std::uint64_t accesses = 0;
  std::uint64_t pages_4k = 0;
  std::uint64_t pages_2m = 0;
  std::uint64_t pages_1g = 0;
};

// Reuse distances of the 4 KiB-page references.
struct ReuseSummary {
  std::uint64_t references = 0;  // pages touched, one per page per access
  std::uint64_t cold = 0;        // first references (= distinct pages)
  // Reuses by distance: bucket 0 holds distance 0, bucket b >= 1 distances [2^(b-1), 2^b).
  std::vector<std::uint64_t> buckets;
  // Percentiles of the reuses' distances (nearest rank); 0 when there is no reuse.
  std::uint64_t p50 = 0;
  std::uint64_t p90 = 0;
  std::uint64_t p99 = 0;
  std::uint64_t max = 0;
  // Reuses with distance below N: the hits of a fully associative LRU TLB of N entries.
  std::uint64_t below_64 = 0;
  std::uint64_t below_1536 = 0;
};

struct TraceSummary {
  std::uint64_t records = 0;
  std::uint64_t accesses = 0;
  std::array<std::uint64_t, 3> kinds{};                  // by AccessKind
  std::array<std::uint64_t, kLastEventOp + 1> events{};  // by EventOp
  std::uint64_t pages_4k = 0;                            // footprint over every address space
  std::uint64_t pages_2m = 0;
  std::uint64_t pages_1g = 0;
  std::uint64_t cpus = 0;                 // distinct (VM, CPU) pairs that made an access
  std::vector<AddressSpaceStats> spaces;  // in order of first access
  ReuseSummary reuse;
};

class TraceStats {
 public:
  // At most this many distinct (VM, address space) pairs.
  static constexpr std::size_t kMaxAddressSpaces = 4096;

  void add(std::span<const Record> records);
  TraceSummary summary() const;

 private:
  std::uint64_t space_index();  // of the current (VM, address space), made on first use
  void reference(std::uint64_t space, std::uint64_t page);

  TraceSummary m_counts;  // records, kinds, events, per-space accesses
  std::vector<std::uint64_t> m_cpu_of_vm = std::vector<std::uint64_t>(kMaxVms, 0);
  // Indexed by vm * kMaxCpus + cpu: each CPU's address space, and whether it made an access.
  std::vector<std::uint64_t> m_asid_of_cpu = std::vector<std::uint64_t>(kMaxVms * kMaxCpus, 0);
  std::vector<bool> m_cpu_used = std::vector<bool>(kMaxVms * kMaxCpus, false);
  std::uint64_t m_vm = 0;
  std::int64_t m_current_space = -1;  // index into m_counts.spaces, -1 after a switch
  ReuseDistance m_reuse;
  std::vector<std::uint64_t> m_distance_counts;  // reuses by exact distance
  std::uint64_t m_references = 0;
  std::uint64_t m_cold = 0;
};

}  // namespace pagesim::traces
