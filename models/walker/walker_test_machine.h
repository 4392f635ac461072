// A small native machine for walker tests and benchmarks: real PhysicalMemory, the real
// FrameAllocator and NativeOs building the page tables, a fixed memory latency and a walker.
#pragma once

#include <cstdint>
#include <vector>

#include "base/stats/stats.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/memory_timing.h"
#include "models/mem/physical_memory.h"
#include "models/os/native_os.h"
#include "models/walker/walker.h"

namespace pagesim::walker::testing {

inline WalkerParams caches_on() { return WalkerParams{}; }
inline WalkerParams caches_off() {
  WalkerParams p;
  p.pwc.enabled = false;
  return p;
}

inline os::Thp thp_for(PageSize size) {
  return size == PageSize::k4K   ? os::Thp::kNever
         : size == PageSize::k2M ? os::Thp::k2M
                                 : os::Thp::k1G;
}

struct Machine {
  static constexpr std::uint64_t kMemoryBytes = 8 * kGiB;  // room for 1 GiB frames at the top
  static constexpr std::uint64_t kFirstByte = 1 * kMiB;    // FrameAllocator's first 4 KiB frame
  static constexpr std::uint64_t kRefLatency = 100;        // cycles per page-table reference

  Machine(unsigned levels, PageSize size, const WalkerParams& walker_params,
          std::uint64_t memory_bytes = kMemoryBytes)
      : memory(memory_bytes),
        frames(memory_bytes, kFirstByte),
        timing(Cycles(kRefLatency)),
        os(os::OsParams{.thp = thp_for(size)}, levels, memory, frames, &stats_root),
        walker(walker_params, levels, memory, timing, &stats_root) {}

  Hpa root(std::uint16_t asid = 0) { return os.address_space_root(asid); }
  void map(std::uint64_t va, std::uint16_t asid = 0) {
    os.handle_page_fault(asid, Gva(va), AccessKind::kRead);
  }
  WalkResult walk(std::uint64_t va, AccessKind kind = AccessKind::kRead, std::uint16_t pcid = 0) {
    return walker.walk(WalkRequest{root(pcid), Gva(va), kind, pcid});
  }
  // A walk that maps the page on a fault and walks again, as the core will do.
  WalkResult touch(std::uint64_t va, AccessKind kind = AccessKind::kRead, std::uint16_t pcid = 0) {
    WalkResult r = walk(va, kind, pcid);
    if (r.outcome == WalkResult::Outcome::kNotPresent) {
      os.handle_page_fault(pcid, Gva(va), kind);
      r = walk(va, kind, pcid);
    }
    return r;
  }

  // The physical address of each entry a walk from the root reads for `va`, root level
  // first, stopping after a leaf or a not-present entry (read straight from memory).
  std::vector<Hpa> entry_chain(std::uint64_t va, std::uint16_t asid = 0) {
    std::vector<Hpa> chain;
    std::uint64_t table = root(asid).value();
    for (unsigned level = walker.levels(); level >= pte::kPt; --level) {
      const Hpa entry(table | pte::entry_offset(va, level));
      chain.push_back(entry);
      const std::uint64_t raw = memory.read_u64(entry);
      if ((raw & pte::kPresent) == 0 || pte::is_leaf(raw, level)) {
        break;
      }
      table = raw & pte::kAddressMask;
    }
    return chain;
  }

  stats::Group stats_root{nullptr, ""};
  mem::PhysicalMemory memory;
  mem::FrameAllocator frames;
  mem::FixedLatency timing;
  os::NativeOs os;
  Walker walker;
};

}  // namespace pagesim::walker::testing
