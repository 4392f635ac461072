#include "sim/config/schema.h"

#include <gtest/gtest.h>

#include "sim/config/toml_loader.h"
#include "sim/sim_params.h"

namespace pagesim {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsValidate) {
  Configuration c;
  EXPECT_NO_THROW(c.validate());
  EXPECT_EQ(c.params().tlb.l1d.small.entries, 64u);
  EXPECT_EQ(c.params().paging.levels, 4u);
}

TEST(Config, SetOverridesAndParsesUnits) {
  Configuration c;
  c.set("tlb.l1d.ways=8");
  c.set("os.memory=8GiB");
  c.set("os.thp=2m");
  c.set("walker.pwc.enabled=false");
  EXPECT_EQ(c.params().tlb.l1d.small.ways, 8u);
  EXPECT_EQ(c.params().os.memory.bytes, 8 * kGiB);
  EXPECT_EQ(c.params().os.thp, os::Thp::k2M);
  EXPECT_FALSE(c.params().walker.pwc.enabled);
}

TEST(Config, UnknownKeyNamesItAndSuggests) {
  Configuration c;
  std::string e = error_of([&] { c.set("tlb.l1d.wayz=4"); });
  EXPECT_NE(e.find("unknown configuration key 'tlb.l1d.wayz'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'tlb.l1d.ways'"), std::string::npos) << e;
}

TEST(Config, ImpossibleValuesNameTheKey) {
  {
    Configuration c;
    c.set("tlb.l1d.ways=0");
    EXPECT_NE(error_of([&] { c.validate(); }).find("tlb.l1d.ways: 0"), std::string::npos);
  }
  {
    Configuration c;
    c.set("tlb.l2.ways=7");  // 1536 / 7 is not whole
    EXPECT_NE(error_of([&] { c.validate(); }).find("tlb.l2.entries: 1536 entries is not divisible"),
              std::string::npos);
  }
  {
    Configuration c;
    c.set("tlb.l1d.entries=48");  // 48 / 4 = 12 sets
    EXPECT_NE(error_of([&] { c.validate(); }).find("12 sets, not a power of two"),
              std::string::npos);
  }
  {
    Configuration c;
    c.set("paging.levels=3");
    EXPECT_NE(error_of([&] { c.validate(); }).find("paging.levels: 3 is outside 4..5"),
              std::string::npos);
  }
  {
    Configuration c;
    EXPECT_NE(error_of([&] {
                c.set("mode=bogus");
              }).find("mode: 'bogus' is not one of: native, nested, shadow"),
              std::string::npos);
  }
  {
    Configuration c;
    EXPECT_NE(error_of([&] { c.set("tlb.l1d.entries=lots"); }).find("tlb.l1d.entries: 'lots'"),
              std::string::npos);
  }
}

TEST(Config, TomlTablesAndDottedKeysAreTheSame) {
  Configuration a;
  config::load_toml_text(const_cast<config::Schema&>(a.schema()),
                         "[tlb.l1d]\nways = 8\n[os]\nmemory = \"4GiB\"\n", "a.toml");
  EXPECT_EQ(a.params().tlb.l1d.small.ways, 8u);
  EXPECT_EQ(a.params().os.memory.bytes, 4 * kGiB);
  std::string e = error_of([&] {
    config::load_toml_text(const_cast<config::Schema&>(a.schema()), "\n\ntlb.l9.ways = 1\n",
                           "b.toml");
  });
  EXPECT_NE(e.find("b.toml:3: unknown configuration key 'tlb.l9.ways'"), std::string::npos) << e;
  e = error_of(
      [&] { config::load_toml_text(const_cast<config::Schema&>(a.schema()), "x = [", "c.toml"); });
  EXPECT_NE(e.find("c.toml:1:"), std::string::npos) << e;
}

TEST(Config, DumpIsLoadableAndRoundTrips) {
  Configuration a;
  a.set("tlb.l2.entries=2048");
  a.set("tlb.l2.ways=16");
  a.set("os.thp=1g");
  a.set("core.frequency_ghz=3.1");
  std::string dumped = a.dump();
  Configuration b;
  config::load_toml_text(const_cast<config::Schema&>(b.schema()), dumped, "dump.toml");
  EXPECT_EQ(b.dump(), dumped);
  // Every key is documented.
  for (const auto& f : a.schema().fields()) {
    EXPECT_FALSE(f->doc().empty()) << f->key();
  }
}

}  // namespace
}  // namespace pagesim
