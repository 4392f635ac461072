// Parameters of the cache-latency model that page-table references go through. Defaults:
// Intel Skylake-SP (Xeon Gold 6142: 16 cores, 2.6 GHz), from the Intel 64 and IA-32
// Architectures Optimization Reference Manual, Skylake Server cache parameters:
//   L1D 32 KiB 8-way, 4 cycles;  L2 1 MiB 16-way, 14 cycles;
//   L3 1.375 MiB per core, 11-way (22 MiB for 16 cores), 50-70 cycles.
// DRAM: about 80 ns idle load latency on a Skylake-SP socket, 210 cycles at 2.6 GHz beyond
// the LLC lookup (measure your own machine with Intel MLC and set cache.dram.latency).
#pragma once

#include <cstdint>

#include "base/config/schema.h"
#include "base/cycles.h"

namespace pagesim::cache {

// The most lines one cache level may have (CacheParams' check): 2^24, 1 GiB at 64 bytes.
inline constexpr std::uint64_t kMaxLines = std::uint64_t{1} << 24;

struct CacheLevelParams {
  config::ByteSize size;
  std::uint32_t ways = 1;
  Cycles latency{0};  // load-to-use latency of a hit at this level
  void describe(config::Schema& s);
  std::uint64_t sets(std::uint32_t line_bytes) const {
    return size.bytes / (std::uint64_t{line_bytes} * ways);
  }
};

struct DramParams {
  Cycles latency{210};  // added to the LLC latency on an LLC miss
  void describe(config::Schema& s) {
    s.field("latency", latency, "cycles a DRAM access adds after an LLC miss");
  }
};

struct CacheParams {
  bool enabled = true;  // false: every page-table reference costs the DRAM path
  // true: the trace's data accesses go through the caches too (CacheHierarchy::access_data):
  // they fill and evict lines, so page-table lines compete with data as on hardware.
  bool data = false;
  std::uint32_t line_bytes = 64;
  CacheLevelParams l1{.size = {32 * 1024}, .ways = 8, .latency = Cycles(4)};
  CacheLevelParams l2{.size = {1024 * 1024}, .ways = 16, .latency = Cycles(14)};
  CacheLevelParams llc{.size = {22 * 1024 * 1024}, .ways = 11, .latency = Cycles(60)};
  DramParams dram;
  void describe(config::Schema& s);
};

}  // namespace pagesim::cache
