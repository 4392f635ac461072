// TlbHierarchy::lookup, the simulator's per-access hot path, with the default (Skylake)
// geometry. Reports time per lookup; items_per_second is lookups per second.
//   L1Hit: 32 pages, cycled; they fit the 64-entry L1 dTLB (2 per set of 16), every lookup
//          hits the L1.
//   L2Hit: 1024 consecutive pages, cycled; the STLB (128 sets x 12 ways) holds them (8 per
//          set), the L1 dTLB (16 sets x 4 ways) sees 64 pages per set in LRU order and misses
//          every time: each lookup is an L1 miss, an L2 hit and an L1 fill with an eviction.
#include <benchmark/benchmark.h>

#include <vector>

#include "models/tlb/tlb_hierarchy.h"

namespace pagesim::tlb {
namespace {

void run_cyclic(benchmark::State& state, std::uint64_t pages, int expected_level) {
  stats::Group root(nullptr, "");
  TlbHierarchy tlbs(TlbHierarchyParams{}, 1, &root);
  std::vector<Gva> gvas;
  for (std::uint64_t vpn = 0; vpn < pages; ++vpn) {
    Translation t;
    t.page_base = Hpa(0x100000000 + vpn * 4096);
    gvas.emplace_back(0x7f0000000000 + vpn * 4096 + 8 * (vpn % 512));
    tlbs.fill(AccessKind::kRead, gvas.back(), 1, 0, t);
  }
  // Warm the replacement state into its steady state.
  for (const Gva& g : gvas) {
    tlbs.lookup(AccessKind::kRead, g, 1, 0);
  }
  if (tlbs.lookup(AccessKind::kRead, gvas[0], 1, 0).level != expected_level) {
    state.SkipWithError("the stream does not hit the intended level");
    return;
  }
  const std::size_t mask = pages - 1;  // pages is a power of two
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = tlbs.lookup(AccessKind::kRead, gvas[i], 1, 0);
    benchmark::DoNotOptimize(r);
    i = (i + 1) & mask;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_TlbLookup_L1Hit(benchmark::State& state) { run_cyclic(state, 32, 1); }
void BM_TlbLookup_L2Hit(benchmark::State& state) { run_cyclic(state, 1024, 2); }

BENCHMARK(BM_TlbLookup_L1Hit);
BENCHMARK(BM_TlbLookup_L2Hit);

}  // namespace
}  // namespace pagesim::tlb

BENCHMARK_MAIN();
