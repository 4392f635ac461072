// Generators: determinism and each pattern's defining property (generator.h gives the
// definitions the expectations below are derived from).
#include "traces/generator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>
#include <vector>

#include "traces/byte_size.h"
#include "traces/hash_permutation.h"
#include "traces/test_util.h"
#include "traces/zipf_sampler.h"

namespace pagesim::traces {
namespace {

using ::testing::HasSubstr;

constexpr std::uint64_t kBase = 0x7f0000000000;  // GeneratorSpec's default base

std::vector<Record> generate(std::string_view spec, std::size_t batch = 4096) {
  auto reader = make_generator(parse_generator_spec(spec));
  return read_all(*reader, batch);
}

std::string spec_error(std::string_view spec) {
  return trace_error_of([&] { parse_generator_spec(spec); });
}

TEST(Generator, DeterministicAndSeeded) {
  for (const char* pattern : {"sequential", "strided", "uniform", "zipf", "pointer_chase"}) {
    SCOPED_TRACE(pattern);
    const std::string spec = std::string(pattern) + ":count=5000,footprint=16MiB,writes=0.5";
    // Same spec, same records, whatever the batch size.
    EXPECT_EQ(generate(spec, 4096), generate(spec, 7));
    const std::vector<Record> a = generate(spec + ",seed=1");
    const std::vector<Record> b = generate(spec + ",seed=2");
    EXPECT_NE(a, b) << "the seed changes the kinds (and the addresses of random patterns)";
  }
}

TEST(Generator, GoldenRecordsPinTheStreams) {
  // The first records for fixed specs. These must never change: a spec names a trace on
  // every machine and in every later version (own RNG, own exp/log in the zipf sampler).
  const std::vector<Record> uniform = generate("uniform:count=3,footprint=64GiB,seed=1,writes=0.5");
  const std::vector<Record> zipf = generate("zipf:count=3,footprint=64GiB,seed=1");
  const std::vector<Record> chase = generate("pointer_chase:count=3,footprint=64GiB,seed=1");
  std::ostringstream got;
  for (const auto* records : {&uniform, &zipf, &chase}) {
    for (const Record& r : *records) {
      got << access_kind_letter(r.kind) << std::hex << " 0x" << r.address << std::dec << "\n";
    }
  }
  EXPECT_EQ(got.str(),
            "W 0x7f0ee127fe60\n"  // uniform
            "W 0x7f0d6dad8d30\n"
            "W 0x7f02a52c16c8\n"
            "R 0x7f0102846d68\n"  // zipf
            "R 0x7f0d3971f9a8\n"
            "R 0x7f0d50e08070\n"
            "R 0x7f0b3fec0cc0\n"  // pointer chase
            "R 0x7f0ed84ac400\n"
            "R 0x7f0db143ce40\n");
}

TEST(Generator, SequentialCoversFootprintInOrder) {
  // footprint / size distinct addresses, base + i * size in order, then wraps to base.
  const std::vector<Record> records = generate("sequential:count=20000,footprint=64KiB,size=8");
  const std::size_t slots = 64 * 1024 / 8;
  for (std::size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(records[i].address, kBase + (i % slots) * 8) << "record " << i;
    ASSERT_EQ(records[i].size, 8u);
    ASSERT_EQ(records[i].kind, AccessKind::kRead);  // writes=0, fetches=0 by default
  }
}

TEST(Generator, StridedWrapsBeforeLeavingFootprint) {
  // footprint 40000, stride 4096, size 8: S = (40000 - 8) / 4096 + 1 = 10 slots, the last at
  // offset 36864 (36864 + 8 <= 40000); record 10 is back at base.
  const std::vector<Record> records =
      generate("strided:count=25,footprint=40000,stride=4K,size=8,base=0x1000");
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].address, 0x1000 + (i % 10) * 4096) << "record " << i;
  }
}

TEST(Generator, UniformStaysInRangeAligned) {
  // Offsets 8 * U[0, (F - size) / 8]: inside [base, base + F), 8-byte aligned, and spread
  // evenly: each of 16 equal bins gets count/16 within 6 standard deviations.
  constexpr std::uint64_t kFootprint = std::uint64_t{64} << 30;
  constexpr std::size_t kCount = 1'000'000;
  const std::vector<Record> records = generate("uniform:count=1000000,footprint=64GiB,size=16");
  std::vector<std::size_t> bins(16);
  for (const Record& r : records) {
    ASSERT_GE(r.address, kBase);
    ASSERT_LE(r.address + r.size, kBase + kFootprint);
    ASSERT_EQ(r.address % 8, 0u);
    ++bins[(r.address - kBase) / (kFootprint / 16)];
  }
  const double expected = kCount / 16.0;
  const double sigma = std::sqrt(kCount * (1.0 / 16) * (15.0 / 16));
  for (std::size_t bin : bins) {
    EXPECT_NEAR(static_cast<double>(bin), expected, 6 * sigma);
  }
}

TEST(Generator, PointerChaseVisitsEveryLineOncePerCycle) {
  for (const char* footprint : {"64", "1MiB", "1002176"}) {  // 1, 16384, 15659 lines
    SCOPED_TRACE(footprint);
    const std::uint64_t lines = *parse_byte_size(footprint) / 64;
    const std::vector<Record> records =
        generate("pointer_chase:count=" + std::to_string(2 * lines + 5) +
                 ",footprint=" + footprint + ",base=0");
    std::vector<bool> seen(lines);
    for (std::size_t i = 0; i < lines; ++i) {
      const std::uint64_t line = records[i].address / 64;
      ASSERT_EQ(records[i].address % 64, 0u);
      ASSERT_LT(line, lines);
      ASSERT_FALSE(seen[line]) << "line " << line << " visited twice in one cycle";
      seen[line] = true;
    }
    // The chain repeats: the next cycle is the same order.
    for (std::size_t i = lines; i < records.size(); ++i) {
      ASSERT_EQ(records[i].address, records[i - lines].address) << "record " << i;
    }
  }
}

TEST(Generator, PointerChaseOver64GiBIsBoundedAndDistinct) {
  // 2^30 lines, no table: the first million are distinct lines inside the footprint.
  const std::vector<Record> records = generate("pointer_chase:count=1000000,footprint=64GiB");
  std::unordered_set<std::uint64_t> lines;
  for (const Record& r : records) {
    ASSERT_LT(r.address - kBase, std::uint64_t{64} << 30);
    ASSERT_TRUE(lines.insert(r.address).second);
  }
}

double harmonic(std::uint64_t n, double alpha) {
  double h = 0;
  for (std::uint64_t k = n; k >= 1; --k) {  // smallest terms first
    h += std::pow(static_cast<double>(k), -alpha);
  }
  return h;
}

class ZipfPopularity : public ::testing::TestWithParam<double> {};

TEST_P(ZipfPopularity, TopPagesDrawnAsTheFormulaSays) {
  // P(rank k) = k^-alpha / H(N, alpha) over N = 64 MiB / 4 KiB = 16384 pages. Sorting the
  // per-page counts, the top ones estimate ranks 1 and 2: each must be within 5 standard
  // deviations (binomial, sqrt(M p (1 - p))) of M p.
  const double alpha = GetParam();
  constexpr std::uint64_t kPages = 16384;
  constexpr std::size_t kDraws = 1'000'000;
  const std::vector<Record> records =
      generate("zipf:count=1000000,footprint=64MiB,base=0,seed=3,alpha=" + std::to_string(alpha));
  std::vector<std::size_t> per_page(kPages);
  for (const Record& r : records) {
    ASSERT_LT(r.address / 4096, kPages);
    ASSERT_LE(r.address % 4096 + r.size, 4096u) << "an access stays inside its page";
    ++per_page[r.address / 4096];
  }
  std::sort(per_page.begin(), per_page.end(), std::greater<>());
  const double h = harmonic(kPages, alpha);
  for (int rank = 1; rank <= 2; ++rank) {
    const double p = std::pow(rank, -alpha) / h;
    const double sigma = std::sqrt(kDraws * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(per_page[static_cast<std::size_t>(rank - 1)]), kDraws * p,
                5 * sigma)
        << "rank " << rank << ", p = " << p;
  }
}

INSTANTIATE_TEST_SUITE_P(Alphas, ZipfPopularity, ::testing::Values(0.6, 0.99, 1.0, 1.5));

TEST(Generator, ZipfOver64GiBNeedsNoTable) {
  // 16M pages: rejection-inversion draws in O(1) with no per-page state.
  const std::vector<Record> records = generate("zipf:count=1000000,footprint=64GiB");
  std::size_t hottest_page_hits = 0;
  const std::uint64_t first_page = records[0].address / 4096;
  for (const Record& r : records) {
    ASSERT_LT(r.address - kBase, std::uint64_t{64} << 30);
    hottest_page_hits += r.address / 4096 == first_page;
  }
  EXPECT_GT(hottest_page_hits, 0u);
}

TEST(Generator, KindsFollowTheFractionsAndLeaveAddressesAlone) {
  // W with probability 0.3, X with 0.1: counts within 5 sigma of count * p.
  const std::vector<Record> mixed = generate("uniform:count=200000,writes=0.3,fetches=0.1");
  const std::vector<Record> reads = generate("uniform:count=200000");
  std::size_t writes = 0;
  std::size_t fetches = 0;
  for (std::size_t i = 0; i < mixed.size(); ++i) {
    ASSERT_EQ(mixed[i].address, reads[i].address) << "kinds come from their own stream";
    writes += mixed[i].kind == AccessKind::kWrite;
    fetches += mixed[i].kind == AccessKind::kFetch;
  }
  auto near = [](std::size_t got, double p) {
    EXPECT_NEAR(static_cast<double>(got), 200000 * p, 5 * std::sqrt(200000 * p * (1 - p)));
  };
  near(writes, 0.3);
  near(fetches, 0.1);
  EXPECT_THAT(generate("sequential:count=100,writes=1"),
              ::testing::Each(::testing::Field(&Record::kind, AccessKind::kWrite)));
}

TEST(Generator, CountAndDescribe) {
  auto reader = open_trace("gen:uniform:count=10,footprint=1MiB");
  EXPECT_EQ(reader->record_count(), 10u);
  EXPECT_EQ(reader->describe(),
            "gen:uniform:count=10,footprint=1MiB,base=0x7f0000000000,size=8,seed=1,writes=0,"
            "fetches=0 (generator)");
  EXPECT_EQ(read_all(*reader).size(), 10u);
  EXPECT_TRUE(generate("uniform:count=0").empty());
}

TEST(GeneratorSpec, ParsesTheBriefsExample) {
  const GeneratorSpec spec = parse_generator_spec("uniform:count=10000000,footprint=64GiB,seed=1");
  EXPECT_EQ(spec, (GeneratorSpec{.pattern = Pattern::kUniform,
                                 .count = 10'000'000,
                                 .footprint_bytes = std::uint64_t{64} << 30,
                                 .seed = 1}));
}

TEST(GeneratorSpec, EveryKey) {
  const GeneratorSpec spec = parse_generator_spec(
      "zipf: count=5, footprint=2M, base=0x1000, stride=128, seed=0x10, writes=0.25, "
      "fetches=0.5, size=4, alpha=1.2");
  EXPECT_EQ(spec, (GeneratorSpec{.pattern = Pattern::kZipf,
                                 .count = 5,
                                 .footprint_bytes = 2 << 20,
                                 .base_address = 0x1000,
                                 .stride_bytes = 128,
                                 .seed = 16,
                                 .write_fraction = 0.25,
                                 .fetch_fraction = 0.5,
                                 .size_bytes = 4,
                                 .zipf_alpha = 1.2}));
  EXPECT_EQ(parse_generator_spec("pointer-chase").pattern, Pattern::kPointerChase);
  EXPECT_EQ(parse_generator_spec("sequential"), GeneratorSpec{});
}

TEST(GeneratorSpec, FormatRoundTrips) {
  for (const char* text :
       {"sequential:count=7,footprint=3000,size=3", "strided:stride=192,base=0x40",
        "uniform:footprint=64GiB,writes=0.125", "zipf:alpha=0.75,seed=99,fetches=0.3",
        "pointer_chase:footprint=1TiB,size=64"}) {
    SCOPED_TRACE(text);
    const GeneratorSpec spec = parse_generator_spec(text);
    EXPECT_EQ(parse_generator_spec(format_generator_spec(spec)), spec);
  }
  EXPECT_EQ(format_generator_spec(parse_generator_spec("strided:footprint=1200K,count=5")),
            "strided:count=5,footprint=1200KiB,base=0x7f0000000000,stride=4KiB,size=8,seed=1,"
            "writes=0,fetches=0");
}

TEST(GeneratorSpec, ErrorsNameTheBadKey) {
  EXPECT_EQ(spec_error("uniform:count=5,foo=1"),
            "generator spec 'uniform:count=5,foo=1': unknown key 'foo' (known: count, "
            "footprint, base, stride, seed, writes, fetches, size, alpha)");
  EXPECT_EQ(spec_error("uniform:footprint=64XB"),
            "generator spec 'uniform:footprint=64XB': key 'footprint': '64XB' is not a byte "
            "size (e.g. 4096, 0x1000, 4K, 64GiB; K = 1024)");
  EXPECT_THAT(spec_error("uniform:footprint=64GB"), HasSubstr("key 'footprint': '64GB' is not"));
  EXPECT_THAT(spec_error("uniform:count=1e7"),
              HasSubstr("key 'count': '1e7' is not an unsigned integer"));
  EXPECT_THAT(spec_error("uniform:writes=1.5"),
              HasSubstr("key 'writes': '1.5' is not a fraction between 0 and 1"));
  EXPECT_THAT(spec_error("zipf:alpha=0"), HasSubstr("key 'alpha': '0' is not a zipf exponent"));
  EXPECT_THAT(spec_error("uniform:size=0"), HasSubstr("key 'size': '0' is not an access size"));
  EXPECT_THAT(spec_error("uniform:count=1,count=2"), HasSubstr("key 'count' given twice"));
  EXPECT_THAT(spec_error("uniform:count"), HasSubstr("'count' is not key=value"));
  EXPECT_THAT(spec_error("random:count=1"),
              HasSubstr("unknown pattern 'random' (known: sequential, strided, uniform, zipf, "
                        "pointer_chase)"));
  // Values that parse but cannot generate.
  EXPECT_THAT(spec_error("uniform:footprint=4,size=8"),
              HasSubstr("key 'footprint': 4 bytes hold no access of size 8"));
  EXPECT_THAT(spec_error("uniform:writes=0.7,fetches=0.7"),
              HasSubstr("key 'fetches': writes + fetches exceeds 1"));
  EXPECT_THAT(spec_error("uniform:base=0xfffffffffffff000,footprint=8K"),
              HasSubstr("key 'base': base + footprint passes 2^64"));
  EXPECT_THAT(spec_error("strided:stride=0"), HasSubstr("key 'stride': must be at least 1"));
  EXPECT_THAT(spec_error("zipf:footprint=2K"), HasSubstr("key 'footprint': zipf draws 4 KiB"));
  EXPECT_THAT(spec_error("pointer_chase:size=128"),
              HasSubstr("key 'size': pointer-chase accesses stay inside a 64-byte line"));
  // A spec reaching make_generator directly is checked too.
  EXPECT_THAT(
      trace_error_of([] { make_generator(GeneratorSpec{.footprint_bytes = 4, .size_bytes = 8}); }),
      HasSubstr("key 'footprint'"));
}

TEST(ByteSize, ParseAndFormat) {
  EXPECT_EQ(parse_byte_size("4096"), 4096u);
  EXPECT_EQ(parse_byte_size("0x1000"), 4096u);
  EXPECT_EQ(parse_byte_size("4K"), 4096u);
  EXPECT_EQ(parse_byte_size("4k"), 4096u);
  EXPECT_EQ(parse_byte_size("4KiB"), 4096u);
  EXPECT_EQ(parse_byte_size("2MiB"), 2u << 20);
  EXPECT_EQ(parse_byte_size("64GiB"), std::uint64_t{64} << 30);
  EXPECT_EQ(parse_byte_size("1T"), std::uint64_t{1} << 40);
  EXPECT_EQ(parse_byte_size("16383P"), std::uint64_t{16383} << 50);
  EXPECT_EQ(parse_byte_size("16384P"), std::nullopt);  // 2^64: too big
  for (const char* bad : {"", "K", "4KB", "4 K", "4Ki", "-1", "1.5G", "0x", "4X"}) {
    EXPECT_EQ(parse_byte_size(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(format_byte_size(0), "0");
  EXPECT_EQ(format_byte_size(4100), "4100");
  EXPECT_EQ(format_byte_size(4096), "4KiB");
  EXPECT_EQ(format_byte_size(std::uint64_t{64} << 30), "64GiB");
  EXPECT_EQ(format_byte_size(3 << 20), "3MiB");
}

TEST(HashPermutation, IsABijection) {
  for (std::uint64_t n : {1, 2, 3, 5, 64, 1000, 4097, 65536}) {
    SCOPED_TRACE(n);
    const HashPermutation perm(n, 42);
    std::vector<bool> hit(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint64_t image = perm(i);
      ASSERT_LT(image, n);
      ASSERT_FALSE(hit[image]);
      hit[image] = true;
    }
  }
}

TEST(ZipfSampler, DeterministicMathMatchesTheLibrary) {
  // det_log / det_exp agree with the C library to within a few ulps (relative 1e-15).
  for (double x = 1e-300; x < 1e300; x *= 1.37) {
    EXPECT_NEAR(det_log(x), std::log(x), 1e-15 * std::max(1.0, std::fabs(std::log(x)))) << x;
  }
  for (double x = -700; x < 700; x += 0.731) {
    EXPECT_NEAR(det_exp(x) / std::exp(x), 1.0, 1e-15) << x;
  }
  EXPECT_EQ(det_exp(0.0), 1.0);
  EXPECT_EQ(det_log(1.0), 0.0);
  // Subnormal arguments and results.
  EXPECT_NEAR(det_log(4.9e-324), std::log(4.9e-324), 1e-13);
  EXPECT_NEAR(det_log(1e-310), std::log(1e-310), 1e-13);
  EXPECT_NEAR(det_exp(-740.0) / std::exp(-740.0), 1.0, 1e-3);  // 3 significant bits left
  EXPECT_EQ(det_exp(710.0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(det_exp(-746.0), 0.0);
}

}  // namespace
}  // namespace pagesim::traces
