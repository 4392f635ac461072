// The named presets: each is valid under the same schema as any configuration, sets only
// existing keys, sets the same keys as the others, and has the geometry its sources give.
#include "sim/preset/preset.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "base/config/schema.h"
#include "sim/sim_params.h"

namespace pagesim::preset {
namespace {

std::uint64_t pages_4k_reach(const tlb::TlbParams& t) { return t.small.entries; }

TEST(Presets, EveryNamedPresetValidatesAndCitesASourceForEachValue) {
  for (const Preset& p : named_presets()) {
    SCOPED_TRACE(std::string(p.name));
    Configuration c;
    ASSERT_NO_THROW(apply(c, resolve(p.name)));
    EXPECT_NO_THROW(c.validate());
    for (const Value& v : p.values) {
      EXPECT_FALSE(v.source.empty()) << v.key;
      EXPECT_NE(c.schema().find(v.key), nullptr) << v.key;
    }
  }
}

TEST(Presets, EveryNamedPresetSetsTheSameKeysOnce) {
  std::set<std::string_view> first;
  for (const Value& v : named_presets()[0].values) {
    EXPECT_TRUE(first.insert(v.key).second) << "set twice: " << v.key;
  }
  for (const Preset& p : named_presets()) {
    std::set<std::string_view> keys;
    for (const Value& v : p.values) {
      EXPECT_TRUE(keys.insert(v.key).second) << p.name << " sets twice: " << v.key;
    }
    EXPECT_EQ(keys, first) << p.name;
  }
}

TEST(Presets, SkylakeSpIsTheBuiltInDefaults) {
  Configuration defaults;
  Configuration skylake;
  apply(skylake, resolve("skylake-sp"));
  for (const auto& f : defaults.schema().fields()) {
    EXPECT_EQ(skylake.schema().find(f->key())->value_text(), f->value_text()) << f->key();
  }
}

TEST(Presets, UnknownNameNamesTheOptionAndListsThePresets) {
  try {
    resolve("zen9");
    FAIL() << "no error";
  } catch (const config::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--preset zen9: unknown preset"), std::string::npos) << what;
    EXPECT_NE(what.find("skylake-sp, icelake-sp, sapphire-rapids, zen3, zen4, host"),
              std::string::npos)
        << what;
  }
  EXPECT_THROW(resolve("Zen4"), config::ConfigError);
  EXPECT_EQ(find_named("host"), nullptr);  // host is resolved from CPUID, not a table
}

TEST(Presets, AnUnknownKeyInAPresetIsAnErrorNamingThePresetAndTheKey) {
  Resolved bad{.name = "broken", .values = {{"tlb.l1d.entires", "64", "a typo"}}, .report = {}};
  Configuration c;
  try {
    apply(c, bad);
    FAIL() << "no error";
  } catch (const config::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("preset broken"), std::string::npos) << what;
    EXPECT_NE(what.find("tlb.l1d.entires"), std::string::npos) << what;
  }
}

TEST(Presets, LaterSourcesOverrideThePreset) {
  Configuration c;
  apply(c, resolve("zen4"));
  c.set("tlb.l2.entries=1536");
  c.set("tlb.l2.ways=12");
  c.validate();
  EXPECT_EQ(c.params().tlb.l2.small.entries, 1536u);
  EXPECT_EQ(c.params().tlb.l1d.small.entries, 72u);  // the rest stays the preset's
}

TEST(Presets, DumpNamesThePresetAndLoadsBack) {
  Configuration c;
  apply(c, resolve("icelake-sp"));
  const std::string dump = c.dump();
  EXPECT_EQ(dump.rfind("# Preset icelake-sp applied first", 0), 0u) << dump.substr(0, 200);
  EXPECT_NE(dump.find("tlb.l2.entries = 2048"), std::string::npos);
}

// STLB reach, in 4 KiB pages and bytes, from the sizes each preset cites.
struct Reach {
  const char* preset;
  std::uint32_t l1d_4k, l1d_2m, l1d_1g, l2_4k, l2_1g;
  bool l1d_shared_2m;
  std::uint64_t l2_reach_bytes_4k;
};

class PresetGeometry : public ::testing::TestWithParam<Reach> {};

TEST_P(PresetGeometry, TlbGeometryAndStlbReach) {
  const Reach& r = GetParam();
  Configuration c;
  apply(c, resolve(r.preset));
  c.validate();
  const auto& t = c.params().tlb;
  EXPECT_EQ(t.l1d.small.entries, r.l1d_4k);
  EXPECT_EQ(t.l1d.huge_2m.entries, r.l1d_2m);
  EXPECT_EQ(t.l1d.huge_1g.entries, r.l1d_1g);
  EXPECT_EQ(t.l1d.shared_2m, r.l1d_shared_2m);
  EXPECT_EQ(t.l2.small.entries, r.l2_4k);
  EXPECT_TRUE(t.l2.shared_2m);  // every STLB / L2 DTLB here holds 4K and 2M pages together
  EXPECT_EQ(t.l2.huge_1g.entries, r.l2_1g);
  EXPECT_EQ(pages_4k_reach(t.l2) * 4096, r.l2_reach_bytes_4k);
  // Every array's set count is a power of two (the model's index), entries = sets x ways.
  for (const tlb::TlbParams* level : {&t.l1d, &t.l1i, &t.l2}) {
    for (const tlb::TlbArrayParams* a : {&level->small, &level->huge_2m, &level->huge_1g}) {
      if (a->entries != 0) {
        const std::uint32_t sets = a->entries / a->ways;
        EXPECT_EQ(sets * a->ways, a->entries);
        EXPECT_EQ(sets & (sets - 1), 0u);
      }
    }
  }
}

// Sources: presets.cc (Skylake/Sunny Cove/Golden Cove per the Optimization Reference
// Manual and CPUID leaf 0x18; Zen 3/4 per AMD's optimization guides and CPUID Fn8000_0005,
// _0006, _0019). STLB reach: 1536 x 4 KiB = 6 MiB; 2048 x 4 KiB = 8 MiB; 3072 x 4 KiB = 12 MiB.
INSTANTIATE_TEST_SUITE_P(
    Named, PresetGeometry,
    ::testing::Values(Reach{"skylake-sp", 64, 32, 4, 1536, 16, false, 6u << 20},
                      Reach{"icelake-sp", 64, 32, 8, 2048, 1024, false, 8u << 20},
                      Reach{"sapphire-rapids", 64, 32, 8, 2048, 1024, false, 8u << 20},
                      Reach{"zen3", 64, 0, 64, 2048, 64, true, 8u << 20},
                      Reach{"zen4", 72, 0, 72, 3072, 64, true, 12u << 20}),
    [](const auto& param_info) {
      std::string name = param_info.param.preset;
      for (char& ch : name) {
        ch = ch == '-' ? '_' : ch;
      }
      return name;
    });

TEST(Presets, CacheGeometryOfEachPreset) {
  struct Row {
    const char* preset;
    std::uint64_t l1, l2, llc;
    std::uint32_t llc_ways;
  };
  for (const Row& r : {Row{"skylake-sp", 32 << 10, 1 << 20, 22u << 20, 11},
                       Row{"icelake-sp", 48 << 10, 1280 << 10, 48u << 20, 12},
                       Row{"sapphire-rapids", 48 << 10, 2 << 20, 60u << 20, 15},
                       Row{"zen3", 32 << 10, 512 << 10, 32u << 20, 16},
                       Row{"zen4", 32 << 10, 1 << 20, 32u << 20, 16}}) {
    SCOPED_TRACE(r.preset);
    Configuration c;
    apply(c, resolve(r.preset));
    const auto& k = c.params().cache;
    EXPECT_EQ(k.l1.size.bytes, r.l1);
    EXPECT_EQ(k.l2.size.bytes, r.l2);
    EXPECT_EQ(k.llc.size.bytes, r.llc);
    EXPECT_EQ(k.llc.ways, r.llc_ways);
    EXPECT_LT(k.l1.latency.count(), k.l2.latency.count());
    EXPECT_LT(k.l2.latency.count(), k.llc.latency.count());
  }
}

// The page walkers each preset cites (presets.cc): Skylake's two, Golden Cove's four, Zen 3's
// two; Ice Lake and Zen 4 their predecessors'. None sets the overlap window: a trace has no
// dependences, so walks are waited for unless the user sets core.walk_window.
TEST(Presets, PageWalkersOfEachPreset) {
  for (const auto& [preset, walkers] :
       {std::pair{"skylake-sp", 2u}, std::pair{"icelake-sp", 2u}, std::pair{"sapphire-rapids", 4u},
        std::pair{"zen3", 2u}, std::pair{"zen4", 2u}}) {
    SCOPED_TRACE(preset);
    Configuration c;
    apply(c, resolve(preset));
    EXPECT_EQ(c.params().core.page_walkers, walkers);
    EXPECT_EQ(c.params().core.walk_window, 0u);
  }
}

}  // namespace
}  // namespace pagesim::preset
