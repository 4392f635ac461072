// The 2D walker's hot path, with a FixedLatency memory (the cache model's cost is not part
// of these figures). Time per iteration is the host time of one walk; items_per_second is
// walks per second; refs_per_walk is the simulated references per walk.
//   NestedWalk/caches:0  every cache off: 24 references per walk (4+4, 4 KiB on both sides)
//   NestedWalk/caches:1  the default caches: guest PSCs and EPT PSCs (walker.pwc, ept_pwc)
//   NestedWalk/caches:2  also the nested TLB and the page-walk cache by HPA
// Walks of uniformly random 4 KiB pages of a guest whose 64 GiB are all mapped (16 Mi guest
// PTEs and 16 Mi EPT PTEs: building them takes a few seconds before the first iteration).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "models/walker/nested_walker_test_machine.h"

namespace pagesim::walker {
namespace {

constexpr std::uint64_t kPage = 4 * kKiB;
constexpr std::uint64_t kBase = 0x7f00'0000'0000;
constexpr std::uint64_t kFootprint = 64 * kGiB;
constexpr std::uint64_t kPages = kFootprint / kPage;

std::uint64_t xorshift(std::uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

testing::NestedConfig bench_config(int caches) {
  testing::NestedConfig c;
  c.guest = testing::guest_pwc(caches >= 1);
  c.nested = testing::nested_caches(caches >= 1, caches >= 2, caches >= 2);
  c.guest_bytes = kFootprint + 2 * kGiB;  // data frames plus the guest's page tables
  c.host_bytes = kFootprint + 8 * kGiB;   // guest RAM plus EPT tables
  return c;
}

void BM_NestedWalk(benchmark::State& state) {
  const int caches = static_cast<int>(state.range(0));
  testing::NestedMachine m(bench_config(caches));
  for (std::uint64_t p = 0; p < kPages; ++p) {
    m.map(kBase + p * kPage);
  }
  std::vector<Gva> gvas(std::size_t{1} << 20);
  std::uint64_t x = 88172645463325252ull;
  for (std::size_t i = 0; i < gvas.size(); ++i) {
    gvas[i] = Gva(kBase + (xorshift(x) % kPages) * kPage + 8 * (i % 512));
  }
  NestedWalkRequest r = m.request(kBase);
  const std::size_t mask = gvas.size() - 1;
  std::size_t i = 0;
  const std::uint64_t walks0 = m.walker.stats().walks.value();
  const std::uint64_t refs0 = m.walker.stats().refs.value();
  for (auto _ : state) {
    r.gva = gvas[i];
    NestedWalkResult res = m.walker.walk(r);
    benchmark::DoNotOptimize(res);
    i = (i + 1) & mask;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["refs_per_walk"] = static_cast<double>(m.walker.stats().refs.value() - refs0) /
                                    static_cast<double>(m.walker.stats().walks.value() - walks0);
}
// A fixed iteration count: one run per case, so the tables are built once.
BENCHMARK(BM_NestedWalk)
    ->ArgName("caches")
    ->DenseRange(0, 2)
    ->Iterations(std::int64_t{1} << 23)
    ->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace pagesim::walker

BENCHMARK_MAIN();
