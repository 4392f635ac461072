// The walker's and the OS model's hot paths, with a FixedLatency memory (the cache model's
// cost is not part of these figures). Time per iteration is the host time of one walk (or
// fault); items_per_second is walks (or faults) per second.
//   Walk/levels/pwc/random: walks of uniformly random 4 KiB pages of a populated 4 GiB
//     footprint (1 Mi pages, 2048 page tables). With the default caches most walks miss the
//     32-entry PDE cache and hit the PDPTE cache: 2 references; without them, `levels`.
//   Walk/levels/pwc/sequential: walks of consecutive pages of the same footprint: PDE-cache
//     hits, 1 reference; without the caches, `levels`.
//   PageFault: NativeOs::handle_page_fault on consecutive 4 KiB pages (a new PT every 512).
//   TouchRandom64GiB: walk, fault on first touch, walk again, uniformly random over 64 GiB
//     with the default caches: the walker + OS part of a random-access replay.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "models/walker/walker_test_machine.h"

namespace pagesim::walker {
namespace {

constexpr std::uint64_t kPage = 4 * kKiB;
constexpr std::uint64_t kBase = 0x7f00'0000'0000;  // where the footprint starts

std::uint64_t xorshift(std::uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

void BM_Walk(benchmark::State& state) {
  const auto levels = static_cast<unsigned>(state.range(0));
  const bool pwc = state.range(1) != 0;
  const bool random = state.range(2) != 0;
  constexpr std::uint64_t kFootprint = 4 * kGiB;
  constexpr std::uint64_t kPages = kFootprint / kPage;

  testing::Machine m(levels, PageSize::k4K, pwc ? testing::caches_on() : testing::caches_off(),
                     16 * kGiB);
  for (std::uint64_t p = 0; p < kPages; ++p) {
    m.map(kBase + p * kPage);
  }
  std::vector<Gva> gvas(std::size_t{1} << 20);
  std::uint64_t x = 88172645463325252ull;
  for (std::size_t i = 0; i < gvas.size(); ++i) {
    const std::uint64_t page = random ? xorshift(x) % kPages : i % kPages;
    gvas[i] = Gva(kBase + page * kPage + 8 * (i % 512));
  }
  const Hpa root = m.root();
  const std::size_t mask = gvas.size() - 1;
  std::size_t i = 0;
  for (auto _ : state) {
    WalkResult r = m.walker.walk(WalkRequest{root, gvas[i], AccessKind::kRead, 0});
    benchmark::DoNotOptimize(r);
    i = (i + 1) & mask;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["refs_per_walk"] = static_cast<double>(m.walker.stats().refs.value()) /
                                    static_cast<double>(m.walker.stats().walks.value());
}
BENCHMARK(BM_Walk)->ArgNames({"levels", "pwc", "random"})->ArgsProduct({{4, 5}, {1, 0}, {1, 0}});

void BM_PageFault(benchmark::State& state) {
  constexpr std::uint64_t kMemory = 1024 * kGiB;  // sparse: only table frames hold storage
  mem::PhysicalMemory memory(kMemory);
  mem::FrameAllocator frames(kMemory, kMiB);
  os::NativeOs os(os::OsParams{}, 4, memory, frames, nullptr);
  std::uint64_t va = kBase;
  for (auto _ : state) {
    Cycles c = os.handle_page_fault(0, Gva(va), AccessKind::kWrite);
    benchmark::DoNotOptimize(c);
    va += kPage;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PageFault);

void BM_TouchRandom64GiB(benchmark::State& state) {
  constexpr std::uint64_t kPages = 64 * kGiB / kPage;
  testing::Machine m(4, PageSize::k4K, testing::caches_on(), 128 * kGiB);
  std::uint64_t x = 88172645463325252ull;
  for (auto _ : state) {
    WalkResult r = m.touch(kBase + (xorshift(x) % kPages) * kPage);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["faults_per_touch"] = static_cast<double>(m.os.stats().page_faults.value()) /
                                       static_cast<double>(state.iterations());
}
BENCHMARK(BM_TouchRandom64GiB);

}  // namespace
}  // namespace pagesim::walker

BENCHMARK_MAIN();
