// The shadow machine's miss path, with a FixedLatency memory (the cache model's cost is not
// part of these figures). items_per_second is touch() calls per second.
//   ShadowTouch/pwc:0  every touch a hit in the shadow table: one walk of 4 references
//   ShadowTouch/pwc:1  the same with the paging-structure caches (walker.pwc) on
//   ShadowWalkOnly     the hardware walk alone (Walker::walk on the shadow root): what
//                      touch() adds to it is the rest (a few ns; the walks' memory stalls
//                      dominate both)
//   ShadowFirstTouch   first touches: the reflected fault, the guest's fault, the fixing
//                      fault, three walks (a fresh machine every 2^18 touches)
// Touches of uniformly random 4 KiB pages of a 4 GiB footprint, all mapped beforehand (1 Mi
// guest PTEs and shadow leaves: building them takes a few seconds).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "models/machine/shadow_machine.h"

namespace pagesim::shadow {
namespace {

constexpr std::uint64_t kPage = 4 * kKiB;
constexpr std::uint64_t kBase = 0x7f00'0000'0000;
constexpr std::uint64_t kFootprint = 4 * kGiB;
constexpr std::uint64_t kPages = kFootprint / kPage;

std::uint64_t xorshift(std::uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

ShadowMachineParams bench_params(bool pwc) {
  ShadowMachineParams p;
  p.vm.memory = {kFootprint + 2 * kGiB};
  p.host.memory = {kFootprint + 8 * kGiB};
  p.walker.pwc.enabled = pwc;
  return p;
}

void BM_ShadowTouch(benchmark::State& state) {
  ShadowMachine m(bench_params(state.range(0) != 0));
  for (std::uint64_t p = 0; p < kPages; ++p) {
    m.touch(Gva(kBase + p * kPage), AccessKind::kWrite);
  }
  std::vector<Gva> gvas(std::size_t{1} << 20);
  std::uint64_t x = 88172645463325252ull;
  for (std::size_t i = 0; i < gvas.size(); ++i) {
    gvas[i] = Gva(kBase + (xorshift(x) % kPages) * kPage + 8 * (i % 512));
  }
  const std::size_t mask = gvas.size() - 1;
  std::size_t i = 0;
  for (auto _ : state) {
    TouchResult t = m.touch(gvas[i], AccessKind::kRead);
    benchmark::DoNotOptimize(t);
    i = (i + 1) & mask;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ShadowTouch)->ArgName("pwc")->Arg(0)->Arg(1);

void BM_ShadowWalkOnly(benchmark::State& state) {
  ShadowMachine m(bench_params(false));
  for (std::uint64_t p = 0; p < kPages; ++p) {
    m.touch(Gva(kBase + p * kPage), AccessKind::kWrite);
  }
  std::vector<Gva> gvas(std::size_t{1} << 20);
  std::uint64_t x = 88172645463325252ull;
  for (std::size_t i = 0; i < gvas.size(); ++i) {
    gvas[i] = Gva(kBase + (xorshift(x) % kPages) * kPage + 8 * (i % 512));
  }
  const std::size_t mask = gvas.size() - 1;
  std::size_t i = 0;
  const Hpa root = m.mmu().root_hpa();
  for (auto _ : state) {
    auto t = m.walker().walk({root, gvas[i], AccessKind::kRead, 0});
    benchmark::DoNotOptimize(t);
    i = (i + 1) & mask;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ShadowWalkOnly);

void BM_ShadowFirstTouch(benchmark::State& state) {
  constexpr std::uint64_t kBatch = std::uint64_t{1} << 18;
  auto m = std::make_unique<ShadowMachine>(bench_params(true));
  std::uint64_t p = 0;
  for (auto _ : state) {
    if (p == kBatch) {
      state.PauseTiming();
      m = std::make_unique<ShadowMachine>(bench_params(true));
      p = 0;
      state.ResumeTiming();
    }
    TouchResult t = m->touch(Gva(kBase + p * kPage), AccessKind::kWrite);
    benchmark::DoNotOptimize(t);
    ++p;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ShadowFirstTouch);

}  // namespace
}  // namespace pagesim::shadow

BENCHMARK_MAIN();
