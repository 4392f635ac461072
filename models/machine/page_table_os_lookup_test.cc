// PageTableOs::lookup() against the hardware walker: the tables as the walker reads them,
// without side effects. Beside the native machine (the OS and the walker together), so
// that models/os's tests need no walker.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "models/os/native_os.h"
#include "models/walker/walker_test_machine.h"

namespace pagesim::os {
namespace {

using walker::testing::caches_on;
using walker::testing::Machine;

// ---- lookup(): the tables as the hardware walker reads them, without side effects.

struct LookupCase {
  unsigned levels;
  PageSize size;
};

class LookupAgreesWithTheWalker : public ::testing::TestWithParam<LookupCase> {};

TEST_P(LookupAgreesWithTheWalker, OnMappedAndUnmappedAddresses) {
  const auto [levels, size] = GetParam();
  // 256 GiB of (reserved, mostly untouched) memory: room for 100 1 GiB pages.
  Machine m(levels, size, caches_on(), 256 * kGiB);
  // Pseudo-random addresses over 2^47 bytes (below the 4-level canonical limit), some
  // repeated; every other one is mapped.
  std::vector<std::uint64_t> vas;
  std::uint64_t x = 0x9e37'79b9'7f4a'7c15;
  for (int i = 0; i < 200; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    vas.push_back(x & ((std::uint64_t{1} << 47) - 1));
  }
  std::set<std::uint64_t> mapped_pages;
  for (std::size_t i = 0; i < vas.size(); i += 2) {
    if (mapped_pages.insert(vas[i] >> page_shift(size)).second) {
      m.map(vas[i]);
    }
  }
  const std::uint64_t tables = m.os.stats().page_table_pages.value();
  for (std::uint64_t va : vas) {
    SCOPED_TRACE(va);
    // Read every entry the lookup reads before and after: lookup() sets no A/D bits.
    const std::vector<Hpa> chain = m.entry_chain(va);
    std::vector<std::uint64_t> before;
    for (Hpa e : chain) {
      before.push_back(m.memory.read_u64(e));
    }
    const std::optional<NativeOs::Mapping> got = m.os.lookup(0, Gva(va));
    const std::optional<Translation> want = m.walker.translate_debug(m.root(), Gva(va));
    ASSERT_EQ(got.has_value(), mapped_pages.count(va >> page_shift(size)) != 0);
    ASSERT_EQ(got.has_value(), want.has_value());
    EXPECT_EQ(m.os.is_mapped(0, Gva(va)), got.has_value());
    if (got) {
      EXPECT_EQ(got->page_base, want->page_base);
      EXPECT_EQ(got->size, want->size);
      EXPECT_EQ(got->size, size);
      EXPECT_EQ(got->pa_of(Gva(va)), want->hpa_of(va));
    }
    for (std::size_t i = 0; i < chain.size(); ++i) {
      EXPECT_EQ(m.memory.read_u64(chain[i]), before[i]);
    }
  }
  // No side effects: no table allocated, no fault counted, and an address space without a
  // root is not given one.
  EXPECT_FALSE(m.os.lookup(7, Gva(vas[0])).has_value());
  EXPECT_EQ(m.os.stats().page_table_pages.value(), tables);
  EXPECT_EQ(m.os.stats().page_faults.value(), mapped_pages.size());
  EXPECT_EQ(m.frames.table_frames_allocated(), tables);
}

INSTANTIATE_TEST_SUITE_P(
    LevelsAndSizes, LookupAgreesWithTheWalker,
    ::testing::Values(LookupCase{4, PageSize::k4K}, LookupCase{4, PageSize::k2M},
                      LookupCase{4, PageSize::k1G}, LookupCase{5, PageSize::k4K},
                      LookupCase{5, PageSize::k2M}, LookupCase{5, PageSize::k1G}),
    [](const ::testing::TestParamInfo<LookupCase>& i) {
      return "L" + std::to_string(i.param.levels) + "_" + std::string(page_size_name(i.param.size));
    });

}  // namespace
}  // namespace pagesim::os
