#include "models/ept/ept_tables.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <tuple>

namespace pagesim::ept {
namespace {

constexpr std::uint64_t kHostBytes = 16 * kGiB;

struct Host {
  explicit Host(EptParams p = {})
      : memory(kHostBytes), frames(kHostBytes, kMiB), ept(p, memory, frames, &root) {}
  stats::Group root{nullptr, ""};
  mem::PhysicalMemory memory;
  mem::FrameAllocator frames;
  EptTables ept;
};

class EptTablesGeometry
    : public ::testing::TestWithParam<std::tuple<NestedFormat, unsigned, PageSize>> {};

TEST_P(EptTablesGeometry, MapLookupUnmap) {
  const auto [format, levels, size] = GetParam();
  Host h(EptParams{.format = format, .levels = levels, .ad_bits = true});
  EXPECT_EQ(h.ept.stats().table_pages.value(), 1u);  // the root
  const Gpa gpa(5 * kGiB);
  const Hpa hpa = h.frames.allocate(size);
  h.ept.map(gpa, hpa, size);
  // One table per level between the root and the leaf's level.
  EXPECT_EQ(h.ept.stats().table_pages.value(), 1u + levels - leaf_level(size));
  const Gpa inside(gpa.value() + page_bytes(size) - 8);
  const auto m = h.ept.lookup_debug(inside);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->page_base, hpa);
  EXPECT_EQ(m->size, size);
  EXPECT_EQ(m->hpa_of(inside), Hpa(hpa.value() + page_bytes(size) - 8));
  EXPECT_TRUE(m->read && m->write && m->execute);
  EXPECT_FALSE(m->accessed || m->dirty);
  EXPECT_FALSE(h.ept.lookup_debug(Gpa(gpa.value() + page_bytes(size))));
  EXPECT_FALSE(h.ept.lookup_debug(Gpa(gpa.value() - 4 * kKiB)));

  EXPECT_EQ(h.ept.unmap(gpa, page_bytes(size)), 1u);
  EXPECT_FALSE(h.ept.lookup_debug(gpa));
  EXPECT_EQ(h.ept.stats().zaps.value(), 1u);
  // Tables stay: mapping again allocates none.
  const std::uint64_t tables = h.ept.stats().table_pages.value();
  h.ept.map(gpa, hpa, size);
  EXPECT_EQ(h.ept.stats().table_pages.value(), tables);
}

INSTANTIATE_TEST_SUITE_P(
    All, EptTablesGeometry,
    ::testing::Combine(::testing::Values(NestedFormat::kEpt, NestedFormat::kNpt),
                       ::testing::Values(4u, 5u),
                       ::testing::Values(PageSize::k4K, PageSize::k2M, PageSize::k1G)));

TEST(EptTables, RootEntriesHaveTheFormatsBits) {
  Host e;
  e.ept.map(Gpa(0), Hpa(0x200000), PageSize::k2M);
  const std::uint64_t pml4e = e.memory.read_u64(e.ept.root());
  EXPECT_EQ(pml4e & kRwx, kRwx);
  EXPECT_EQ(e.ept.eptp(), make_eptp(e.ept.root(), 4, true));

  Host n(EptParams{.format = NestedFormat::kNpt});
  n.ept.map(Gpa(0), Hpa(0x200000), PageSize::k2M);
  const std::uint64_t npml4e = n.memory.read_u64(n.ept.root());
  EXPECT_EQ(npml4e & 0x7, paging::pte::kPresent | paging::pte::kRw | paging::pte::kUser);
  EXPECT_EQ(n.ept.eptp(), n.ept.root().value());  // nCR3
}

TEST(EptTables, StatsCountInstallsPerSize) {
  Host h;
  h.ept.map(Gpa(0), h.frames.allocate(PageSize::k4K), PageSize::k4K);
  h.ept.map(Gpa(4 * kKiB), h.frames.allocate(PageSize::k4K), PageSize::k4K);
  h.ept.map(Gpa(2 * kMiB), h.frames.allocate(PageSize::k2M), PageSize::k2M);
  h.ept.map(Gpa(1 * kGiB), h.frames.allocate(PageSize::k1G), PageSize::k1G);
  EXPECT_EQ(h.ept.stats().installs_4k.value(), 2u);
  EXPECT_EQ(h.ept.stats().installs_2m.value(), 1u);
  EXPECT_EQ(h.ept.stats().installs_1g.value(), 1u);
  // root, PDPT, PD (the 4K pair's PT under it; the 2M leaf in the same PD), PT: 4
  EXPECT_EQ(h.ept.stats().table_pages.value(), 4u);
  const auto paths = stats::collect(h.root);
  bool found = false;
  for (const auto& row : paths) {
    found |= row.path == "ept.installs.4k";
  }
  EXPECT_TRUE(found);
}

TEST(EptTables, ProgrammingErrorsThrow) {
  Host h;
  EXPECT_THROW(h.ept.map(Gpa(4 * kKiB), Hpa(0x200000), PageSize::k2M), std::logic_error);
  EXPECT_THROW(h.ept.map(Gpa(0), Hpa(0x201000), PageSize::k2M), std::logic_error);
  EXPECT_THROW(h.ept.map(Gpa(std::uint64_t{1} << 48), Hpa(0), PageSize::k4K), std::logic_error);
  // A 2 MiB leaf where a table still maps a 4 KiB page.
  h.ept.map(Gpa(0), Hpa(0x5000), PageSize::k4K);
  EXPECT_THROW(h.ept.map(Gpa(0), Hpa(0x200000), PageSize::k2M), std::logic_error);
  EXPECT_EQ(h.ept.stats().tables_freed.value(), 0u);
  EXPECT_EQ(h.ept.lookup_debug(Gpa(0))->page_base, Hpa(0x5000));
  // Rights without R, or with other bits.
  EXPECT_THROW(h.ept.map(Gpa(8 * kKiB), Hpa(0x8000), PageSize::k4K, kWrite), std::logic_error);
  EXPECT_THROW(h.ept.map(Gpa(8 * kKiB), Hpa(0x8000), PageSize::k4K, kRead | kPs), std::logic_error);
  EXPECT_FALSE(h.ept.lookup_debug(Gpa(8 * kKiB)));
  // A 4 KiB leaf below a 2 MiB leaf.
  h.ept.map(Gpa(2 * kMiB), Hpa(0x400000), PageSize::k2M);
  EXPECT_THROW(h.ept.map(Gpa(2 * kMiB + 4 * kKiB), Hpa(0x6000), PageSize::k4K), std::logic_error);
  // Replacing a leaf of the same size is allowed (a remap).
  EXPECT_NO_THROW(h.ept.map(Gpa(2 * kMiB), Hpa(0x600000), PageSize::k2M));
  EXPECT_EQ(h.ept.lookup_debug(Gpa(2 * kMiB))->page_base, Hpa(0x600000));
  EXPECT_THROW(EptTables(EptParams{.levels = 3}, h.memory, h.frames, nullptr),
               std::invalid_argument);
}

TEST(EptTables, UnmapZapsHugeLeavesWholeAndCountsLeaves) {
  Host h;
  // 8 4K pages at [0, 32K), a 2M page at [2M, 4M), a 1G page at [1G, 2G).
  for (std::uint64_t i = 0; i < 8; ++i) {
    h.ept.map(Gpa(i * 4 * kKiB), h.frames.allocate(PageSize::k4K), PageSize::k4K);
  }
  h.ept.map(Gpa(2 * kMiB), h.frames.allocate(PageSize::k2M), PageSize::k2M);
  h.ept.map(Gpa(kGiB), h.frames.allocate(PageSize::k1G), PageSize::k1G);

  EXPECT_EQ(h.ept.unmap(Gpa(8 * kKiB), 8 * kKiB), 2u);  // pages 2 and 3
  EXPECT_TRUE(h.ept.lookup_debug(Gpa(4 * kKiB)));
  EXPECT_FALSE(h.ept.lookup_debug(Gpa(8 * kKiB)));
  EXPECT_FALSE(h.ept.lookup_debug(Gpa(12 * kKiB)));
  EXPECT_TRUE(h.ept.lookup_debug(Gpa(16 * kKiB)));
  // One byte of the 2 MiB page: the whole leaf goes (nothing is split).
  EXPECT_EQ(h.ept.unmap(Gpa(3 * kMiB), 1), 1u);
  EXPECT_FALSE(h.ept.lookup_debug(Gpa(2 * kMiB)));
  // A range over the rest: 6 4K pages + the 1G page; holes count nothing.
  EXPECT_EQ(h.ept.unmap(Gpa(0), 2 * kGiB), 7u);
  EXPECT_EQ(h.ept.stats().zaps.value(), 10u);
  EXPECT_EQ(h.ept.unmap(Gpa(0), 2 * kGiB), 0u);
  EXPECT_EQ(h.ept.unmap(Gpa(0), 0), 0u);
  // The whole space, and beyond it.
  h.ept.map(Gpa((std::uint64_t{1} << 48) - 4 * kKiB), Hpa(0x9000), PageSize::k4K);
  EXPECT_EQ(h.ept.unmap(Gpa(0), ~std::uint64_t{0}), 1u);
}

TEST(EptTables, HugeLeafReplacesAnEmptiedTable) {
  Host h;
  // Two 4 KiB leaves in [2M, 4M): root, PDPT, PD, PT.
  h.ept.map(Gpa(2 * kMiB), Hpa(0x5000), PageSize::k4K);
  h.ept.map(Gpa(2 * kMiB + 8 * kKiB), Hpa(0x6000), PageSize::k4K);
  EXPECT_EQ(h.ept.stats().table_pages.value(), 4u);
  EXPECT_TRUE(h.ept.maps_any(Gpa(2 * kMiB), 2 * kMiB));
  // One zapped, the PT still maps the other: refused.
  EXPECT_EQ(h.ept.unmap(Gpa(2 * kMiB), 4 * kKiB), 1u);
  EXPECT_TRUE(h.ept.maps_any(Gpa(2 * kMiB), 2 * kMiB));
  EXPECT_FALSE(h.ept.maps_any(Gpa(2 * kMiB), 8 * kKiB));
  EXPECT_THROW(h.ept.map(Gpa(2 * kMiB), Hpa(0x400000), PageSize::k2M), std::logic_error);
  // Both zapped: the PT maps nothing and the 2 MiB leaf goes over it (PD entry 1), the PT
  // unlinked (1 freed); no table allocated, the PT's frame not given back.
  EXPECT_EQ(h.ept.unmap(Gpa(2 * kMiB), 2 * kMiB), 1u);
  EXPECT_FALSE(h.ept.maps_any(Gpa(2 * kMiB), 2 * kMiB));
  h.ept.map(Gpa(2 * kMiB), Hpa(0x400000), PageSize::k2M);
  EXPECT_EQ(h.ept.stats().tables_freed.value(), 1u);
  EXPECT_EQ(h.ept.stats().table_pages.value(), 4u);
  const auto m = h.ept.lookup_debug(Gpa(2 * kMiB + 8 * kKiB));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->size, PageSize::k2M);
  EXPECT_EQ(m->hpa_of(Gpa(2 * kMiB + 8 * kKiB)), Hpa(0x402000));

  // 1 GiB over [1G, 2G) whose PD holds a pointer to an emptied PT: PD and PT (2) go.
  h.ept.map(Gpa(kGiB + 4 * kKiB), Hpa(0x7000), PageSize::k4K);  // new PD and PT: 6 tables
  EXPECT_EQ(h.ept.stats().table_pages.value(), 6u);
  h.ept.unmap(Gpa(kGiB), kGiB);
  h.ept.map(Gpa(kGiB), Hpa(kGiB), PageSize::k1G);
  EXPECT_EQ(h.ept.stats().tables_freed.value(), 3u);
  EXPECT_EQ(h.ept.lookup_debug(Gpa(kGiB + 4 * kKiB))->size, PageSize::k1G);
  // [0, 1G)'s PD still maps the 2 MiB leaf: no 1 GiB leaf there.
  EXPECT_THROW(h.ept.map(Gpa(0), Hpa(0), PageSize::k1G), std::logic_error);
  EXPECT_EQ(h.ept.stats().installs_1g.value(), 1u);
  EXPECT_EQ(h.ept.stats().installs_2m.value(), 1u);
}

TEST(EptTables, LeavesCarryTheRightsGiven) {
  for (const NestedFormat f : {NestedFormat::kEpt, NestedFormat::kNpt}) {
    Host h(EptParams{.format = f});
    h.ept.map(Gpa(0), Hpa(0x5000), PageSize::k4K, kRead | kExecute);
    h.ept.map(Gpa(2 * kMiB), Hpa(0x400000), PageSize::k2M, kRead);
    h.ept.map(Gpa(kGiB), Hpa(kGiB), PageSize::k1G, kRead | kWrite);
    const auto rx = h.ept.lookup_debug(Gpa(0));
    EXPECT_TRUE(rx->read && !rx->write && rx->execute);
    const auto r = h.ept.lookup_debug(Gpa(2 * kMiB));
    EXPECT_TRUE(r->read && !r->write && !r->execute);
    const auto rw = h.ept.lookup_debug(Gpa(kGiB));
    EXPECT_TRUE(rw->read && rw->write && !rw->execute);
    // What the 2D walker sees: W and X of the leaf.
    const Hpa pd(h.memory.read_u64(Hpa(h.memory.read_u64(h.ept.root()) & kAddressMask)) &
                 kAddressMask);
    const std::uint64_t leaf2m = h.memory.read_u64(Hpa(pd.value() + 8));  // PD entry 1
    EXPECT_EQ(rights_of(leaf2m, f), paging::pte::kAllowUser);
  }
  // The EPT bits themselves.
  Host e;
  e.ept.map(Gpa(0), Hpa(0x5000), PageSize::k4K, kRead | kExecute);
  const auto m = e.ept.lookup_debug(Gpa(0));
  EXPECT_EQ(m->memory_type, kMemoryTypeWb);
}

}  // namespace
}  // namespace pagesim::ept
