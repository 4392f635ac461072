// TraceStats on a hand-made trace: every number derived by hand in the comments.
#include "traces/trace_stats.h"

#include <gtest/gtest.h>

#include "traces/test_util.h"

namespace pagesim::traces {
namespace {

TEST(TraceStats, HandMadeTrace) {
  // Spaces are (VM, asid); pages are 4 KiB page numbers. "d" is the reuse distance.
  const std::vector<Record> trace = parse(
      "R 0x1000          # (0,0) page 1: cold\n"
      "R 0x1008          # (0,0) page 1 again: d 0\n"
      "W 0x2000          # (0,0) page 2: cold\n"
      "R 0x1ff8 16       # pages 1 and 2: page 1 d 1 (page 2 since), page 2 d 1 (page 1)\n"
      "!cr3 1\n"
      "R 0x1000          # (0,1) page 1: cold\n"
      "X 0x200000        # (0,1) page 0x200: cold, another 2 MiB region\n"
      "!vm 1\n"
      "R 0x1000          # (1,0) page 1: cold (VM 1 starts in asid 0)\n"
      "!vm 0\n"
      "R 0x2000          # (0,1) page 2: cold (VM 0 kept asid 1)\n"
      "R 0x1000          # (0,1) page 1: d 3 ((0,1) 0x200, (1,0) 1, (0,1) 2)\n");
  TraceStats stats;
  stats.add(trace);
  const TraceSummary s = stats.summary();
  EXPECT_EQ(s.records, 12u);  // 9 accesses + 3 events
  EXPECT_EQ(s.accesses, 9u);
  EXPECT_EQ(s.kinds[0], 7u);  // R
  EXPECT_EQ(s.kinds[1], 1u);  // W
  EXPECT_EQ(s.kinds[2], 1u);  // X
  EXPECT_EQ(s.events[static_cast<unsigned>(EventOp::kCr3)], 1u);
  EXPECT_EQ(s.events[static_cast<unsigned>(EventOp::kVm)], 2u);
  // 4K: (0,0) 1, 2; (0,1) 1, 0x200, 2; (1,0) 1 = 6. 2M: (0,0) region 0; (0,1) regions 0
  // and 1; (1,0) region 0 = 4. 1G: one per space = 3.
  EXPECT_EQ(s.pages_4k, 6u);
  EXPECT_EQ(s.pages_2m, 4u);
  EXPECT_EQ(s.pages_1g, 3u);
  ASSERT_EQ(s.spaces.size(), 3u);  // in order of first access
  const AddressSpaceStats expected[3] = {
      {.vm = 0, .asid = 0, .accesses = 4, .pages_4k = 2, .pages_2m = 1, .pages_1g = 1},
      {.vm = 0, .asid = 1, .accesses = 4, .pages_4k = 3, .pages_2m = 2, .pages_1g = 1},
      {.vm = 1, .asid = 0, .accesses = 1, .pages_4k = 1, .pages_2m = 1, .pages_1g = 1},
  };
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(s.spaces[i].vm, expected[i].vm) << i;
    EXPECT_EQ(s.spaces[i].asid, expected[i].asid) << i;
    EXPECT_EQ(s.spaces[i].accesses, expected[i].accesses) << i;
    EXPECT_EQ(s.spaces[i].pages_4k, expected[i].pages_4k) << i;
    EXPECT_EQ(s.spaces[i].pages_2m, expected[i].pages_2m) << i;
    EXPECT_EQ(s.spaces[i].pages_1g, expected[i].pages_1g) << i;
  }
  // 10 references (the 16-byte access touches two pages), 6 cold, reuses d = 0, 1, 1, 3.
  const ReuseSummary& r = s.reuse;
  EXPECT_EQ(r.references, 10u);
  EXPECT_EQ(r.cold, 6u);
  // Nearest rank over the sorted 0, 1, 1, 3: p50 is the 2nd (1), p90 and p99 the 4th (3).
  EXPECT_EQ(r.p50, 1u);
  EXPECT_EQ(r.p90, 3u);
  EXPECT_EQ(r.p99, 3u);
  EXPECT_EQ(r.max, 3u);
  // Buckets: {0}: 1, {1}: 2, {2, 3}: 1.
  EXPECT_EQ(r.buckets, (std::vector<std::uint64_t>{1, 2, 1}));
  EXPECT_EQ(r.below_64, 4u);
  EXPECT_EQ(r.below_1536, 4u);
  // No !cpu: every access on CPU 0 of its VM, so VM 0's and VM 1's CPU 0.
  EXPECT_EQ(s.cpus, 2u);
}

TEST(TraceStats, CpusKeepTheirOwnAddressSpace) {
  // CR3 is per CPU and each VM keeps its current CPU (record.h); spaces are (VM, asid).
  const std::vector<Record> trace = parse(
      "!cr3 1\n"
      "R 0x1000          # VM 0 CPU 0, asid 1\n"
      "!cpu 1\n"
      "R 0x1000          # VM 0 CPU 1, asid 0 (CPU 1 starts there): space (0,0)\n"
      "!cr3 1\n"
      "R 0x2000          # VM 0 CPU 1, asid 1: space (0,1)\n"
      "!vm 1\n"
      "R 0x1000          # VM 1 CPU 0 (VM 1's own), asid 0: space (1,0)\n"
      "!vm 0\n"
      "!cr3 2\n"
      "R 0x3000          # VM 0 is still on CPU 1: asid 2 there: space (0,2)\n"
      "!cpu 0\n"
      "R 0x4000          # VM 0 CPU 0 is still in asid 1: space (0,1)\n");
  TraceStats stats;
  stats.add(trace);
  const TraceSummary s = stats.summary();
  EXPECT_EQ(s.events[static_cast<unsigned>(EventOp::kCpu)], 2u);
  EXPECT_EQ(s.events[static_cast<unsigned>(EventOp::kCr3)], 3u);
  // (VM 0, CPU 0), (VM 0, CPU 1), (VM 1, CPU 0).
  EXPECT_EQ(s.cpus, 3u);
  ASSERT_EQ(s.spaces.size(), 4u);  // in order of first access
  const std::uint64_t expected[4][3] = {{0, 1, 3}, {0, 0, 1}, {1, 0, 1}, {0, 2, 1}};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(s.spaces[i].vm, expected[i][0]) << i;
    EXPECT_EQ(s.spaces[i].asid, expected[i][1]) << i;
    EXPECT_EQ(s.spaces[i].accesses, expected[i][2]) << i;
  }
}

TEST(TraceStats, ASweepReusesAtItsLength) {
  // 3 rounds over 100 pages: 100 cold, then 200 reuses each at distance 99 (the other 99
  // pages came between).
  std::vector<Record> trace;
  for (int round = 0; round < 3; ++round) {
    for (std::uint64_t page = 0; page < 100; ++page) {
      trace.push_back({0x7f0000000000 + page * 4096, 8, R});
    }
  }
  TraceStats stats;
  stats.add(trace);
  const ReuseSummary r = stats.summary().reuse;
  EXPECT_EQ(r.cold, 100u);
  EXPECT_EQ(r.references, 300u);
  EXPECT_EQ(r.p50, 99u);
  EXPECT_EQ(r.max, 99u);
  EXPECT_EQ(r.below_64, 0u);      // a 64-entry LRU misses every one
  EXPECT_EQ(r.below_1536, 200u);  // a 1536-entry one hits them all
  // 99 is in bucket 7, [64, 128).
  ASSERT_EQ(r.buckets.size(), 8u);
  EXPECT_EQ(r.buckets[7], 200u);
}

}  // namespace
}  // namespace pagesim::traces
