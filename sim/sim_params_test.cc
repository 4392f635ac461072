#include "sim/sim_params.h"

#include <gtest/gtest.h>

#include "base/config/schema.h"
#include "base/config/toml_loader.h"

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

TEST(Config, InterleaveIsTraceOrTime) {
  Configuration c;
  EXPECT_EQ(c.params().sim.interleave, Interleave::kTrace);  // today's replay by default
  c.set("sim.interleave=time");
  EXPECT_EQ(c.params().sim.interleave, Interleave::kTime);
  EXPECT_NE(error_of([&] {
              c.set("sim.interleave=cycles");
            }).find("sim.interleave: 'cycles' is not one of: trace, time"),
            std::string::npos);
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

// --- Configuration limits (issue 17, item 9): every bound and relation names its key. ---

// The error of validating `assignments` (after setting them all), or of setting them.
std::string limit_error(std::initializer_list<const char*> assignments) {
  Configuration c;
  return error_of([&] {
    for (const char* a : assignments) {
      c.set(a);
    }
    c.validate();
  });
}

bool valid(std::initializer_list<const char*> assignments) {
  return limit_error(assignments).empty();
}

TEST(ConfigLimits, CyclesAreAtMostTwoToThe32) {
  // A per-event cost of 2^32 cycles (1.65 s at 2.6 GHz) is the largest a key takes: 2^32 - 1
  // charges of it still fit a 64-bit counter. 2^64 - 1 used to wrap the run's totals.
  EXPECT_TRUE(valid({"core.cycles_per_access=4294967296"}));
  std::string e = limit_error({"core.cycles_per_access=18446744073709551615"});
  EXPECT_NE(e.find("--set: core.cycles_per_access: '18446744073709551615' is more than "
                   "4294967296 (2^32) cycles"),
            std::string::npos)
      << e;
  // Every cycle-valued key has the bound, not just one: the parser of the type holds it.
  for (const char* a : {"vmexit.latency=4294967297", "host.swap_in_latency=4294967297",
                        "shadow.sync_page_latency=4294967297", "sim.quantum=4294967297",
                        "cache.dram.latency=4294967297", "tlb.l2.latency=4294967297"}) {
    const std::string key(a, std::string_view(a).find('='));
    EXPECT_NE(limit_error({a}).find(key + ": '4294967297' is more than"), std::string::npos) << a;
  }
  // The dump states the bound next to every cycles key.
  Configuration c;
  EXPECT_NE(c.dump().find("[cycles]\n# allowed: at most 4294967296 (2^32)\n"), std::string::npos);
}

TEST(ConfigLimits, StructureSizesAreBoundedBeforeAllocation) {
  // 2^20 entries per TLB array or walker cache: each entry is allocated at start (~32 bytes,
  // 32 MiB per array at the bound). 2^31 used to pass validation and die in std::bad_alloc.
  EXPECT_TRUE(valid({"walker.pwc.pd.entries=1048576"}));
  std::string e = limit_error({"walker.pwc.pd.entries=2147483648"});
  EXPECT_NE(e.find("walker.pwc.pd.entries: 2147483648 entries is more than 1048576 (2^20)"),
            std::string::npos)
      << e;
  for (const char* key : {"tlb.l1d.entries", "tlb.l2.entries_1g", "walker.ept_pwc.pdpt.entries",
                          "walker.ntlb.entries", "walker.pte_cache.entries"}) {
    const std::string a = std::string(key) + "=2147483648";
    Configuration c;
    c.set(a);
    EXPECT_NE(error_of([&] { c.validate(); }).find(std::string(key) + ": 2147483648 entries"),
              std::string::npos)
        << key;
  }
  // Caches: 2^24 lines per level (an 8-byte tag each, all written at start: 128 MiB), 1 GiB
  // at 64-byte lines. 1 TiB used to die in std::bad_alloc.
  EXPECT_TRUE(valid({"cache.llc.size=1GiB", "cache.llc.ways=16"}));
  e = limit_error({"cache.l1.size=1TiB"});
  EXPECT_NE(e.find("cache.l1.size: 1TiB is 17179869184 lines of 64 bytes, more than 16777216"),
            std::string::npos)
      << e;
  // A line holds at least one 8-byte page-table entry and is at most a 4 KiB page.
  EXPECT_NE(limit_error({"cache.line_bytes=4"}).find("cache.line_bytes: 4 is outside 8..4096"),
            std::string::npos);
}

TEST(ConfigLimits, HostLoadFitsInHostMemoryPlusSwap) {
  // host.load's pages go to the host's managed memory (host.memory less the low 1 MiB never
  // handed out) and, beyond it, to swap; more cannot be placed at all.
  EXPECT_TRUE(valid({"host.memory=64MiB", "host.swap=64MiB", "host.load=127MiB"}));
  std::string e = limit_error({"host.memory=64MiB", "host.swap=64MiB", "host.load=128MiB"});
  EXPECT_NE(e.find("host.load: 128MiB is more than the host can hold: 63MiB of managed memory "
                   "(host.memory = 64MiB less the low 1 MiB) plus host.swap = 64MiB, 127MiB"),
            std::string::npos)
      << e;
  // The case: 512 GiB against the default 256 GiB of memory and 64 GiB of swap.
  EXPECT_NE(limit_error({"host.load=512GiB"}).find("host.load: 512GiB is more than"),
            std::string::npos);
  // A swap size near 2^64 does not wrap the sum.
  EXPECT_TRUE(valid({"host.swap=0xffffffffffffffff", "host.load=1TiB"}));
  // And such a value dumps as a TOML string (TOML integers stop at 2^63 - 1): it loads back.
  Configuration a;
  a.set("host.swap=0xffffffffffffffff");
  a.set("seed=18446744073709551615");
  Configuration b;
  config::load_toml_text(const_cast<config::Schema&>(b.schema()), a.dump(), "dump.toml");
  EXPECT_EQ(b.params().reclaim.swap.bytes, ~std::uint64_t{0});
  EXPECT_EQ(b.dump(), a.dump());
}

TEST(ConfigLimits, WatermarksAreOrderedAndBelowHostMemory) {
  // min <= low <= high, with Linux's defaults filled in for zeros: a high mark of 4 KiB is
  // below the default low one. It used to pass validation and exit 1 from HostMm.
  std::string e = limit_error({"host.watermarks.high=4KiB"});
  EXPECT_NE(e.find("host.watermarks.high: 4KiB is below host.watermarks.low ("), std::string::npos)
      << e;
  EXPECT_NE(e.find("by default for host.memory): need min <= low <= high"), std::string::npos);
  e = limit_error({"host.watermarks.min=2MiB", "host.watermarks.low=1MiB"});
  EXPECT_NE(e.find("host.watermarks.low: 1MiB is below host.watermarks.min (2MiB)"),
            std::string::npos)
      << e;
  // Free memory never exceeds host.memory less the low 1 MiB: a mark there or above would
  // make every fault reclaim. 8 MiB of memory manage 7 MiB.
  EXPECT_TRUE(valid({"host.memory=8MiB", "host.watermarks.min=1MiB", "host.watermarks.low=1MiB",
                     "host.watermarks.high=6MiB"}));
  e = limit_error({"host.memory=8MiB", "host.watermarks.min=1MiB", "host.watermarks.low=1MiB",
                   "host.watermarks.high=7MiB"});
  EXPECT_NE(e.find("host.watermarks.high: 7MiB is not below the 7MiB the host manages "
                   "(host.memory = 8MiB less the low 1 MiB it never hands out)"),
            std::string::npos)
      << e;
  e = limit_error({"host.memory=8MiB", "host.watermarks.min=16MiB"});
  EXPECT_NE(e.find("host.watermarks.min: 16MiB is not below the 7MiB"), std::string::npos) << e;
  // A set min whose derived high mark passes the memory: named on min. On 8 MiB Linux's
  // default min is 362 KiB and a step max(362 KiB / 4, 8 MiB / 1000) = 92672 bytes, so min
  // 7000 KiB gives low 7000 KiB + 92672 and high 7181 KiB, past the 7168 KiB managed.
  e = limit_error({"host.memory=8MiB", "host.watermarks.min=7000KiB"});
  EXPECT_NE(e.find("host.watermarks.min: 7000KiB makes the default high watermark 7181KiB"),
            std::string::npos)
      << e;
}

TEST(ConfigLimits, VmMemoryFitsTheVmmAndTheEpt) {
  // The VMM's guest RAM block starts at HVA 0x7f0000000000 and its 4-level tables map HVAs
  // below 2^48: 129 TiB of guest RAM at most, whatever the mode.
  EXPECT_TRUE(valid({"mode=nested", "vm.memory=129TiB"}));
  // (Values are echoed in their canonical spelling: 1024TiB is 1PiB.)
  std::string e = limit_error({"mode=nested", "vm.memory=1024TiB"});
  EXPECT_NE(e.find("vm.memory: 1PiB is more than 129TiB"), std::string::npos) << e;
  // A 4-level EPT maps 2^48 bytes of GPA (256 TiB); 5 levels 2^57, of which the guest's
  // 52-bit entries can use 2^52 (4 PiB).
  e = limit_error({"mode=nested", "vm.memory=2MiB", "vm.layout=0x1000000000000:2MiB"});
  EXPECT_NE(e.find("vm.layout: 0x1000000000000:2MiB puts a memslot up to GPA 0x1000000200000, "
                   "past the 256TiB of GPA a 4-level EPT/NPT maps (ept.levels)"),
            std::string::npos)
      << e;
  EXPECT_TRUE(
      valid({"mode=nested", "ept.levels=5", "vm.memory=2MiB", "vm.layout=0x1000000000000:2MiB"}));
  e = limit_error({"mode=shadow", "vm.memory=2MiB", "vm.layout=0x10000000000000:2MiB"});
  EXPECT_NE(e.find("vm.layout: 0x10000000000000:2MiB puts a memslot up to GPA "
                   "0x10000000200000, past the 4PiB of GPA the guest's page-table entries hold"),
            std::string::npos)
      << e;
  // Machines' memory: one reservation of the simulator's own address space (128 TiB for an
  // x86-64 Linux process), so 64 TiB at most.
  e = limit_error({"os.memory=128TiB"});
  EXPECT_NE(e.find("os.memory: 128TiB is more than 64TiB"), std::string::npos) << e;
  e = limit_error({"host.memory=128TiB"});
  EXPECT_NE(e.find("host.memory: 128TiB is more than 64TiB"), std::string::npos) << e;
}

TEST(ConfigLimits, OneByteSizeRuleRefusesKB) {
  // K = 1024 everywhere; "KB" means 1000 to some tools, so it is refused with the fix.
  std::string e = limit_error({"vm.memory=4KB"});
  EXPECT_NE(e.find("vm.memory: '4KB' is not a byte size: KB is refused, being 1000 to some tools "
                   "and 1024 to others; write 4KiB"),
            std::string::npos)
      << e;
  EXPECT_NE(limit_error({"os.memory=4gb"}).find("write 4GiB"), std::string::npos);
  EXPECT_NE(limit_error({"mode=nested", "vm.memory=4GiB", "vm.layout=0:4GB"}).find("write 4GiB"),
            std::string::npos);
  Configuration c;
  c.set("host.swap=2k");
  EXPECT_EQ(c.params().reclaim.swap.bytes, 2048u);
  c.set("host.swap=1PiB");
  EXPECT_EQ(c.params().reclaim.swap.bytes, std::uint64_t{1} << 50);
  for (const char* bad : {"4B", "4 KiB", "KiB", "1_000", "0x", "16384P", "4KiBs"}) {
    std::uint64_t v = 0;
    EXPECT_TRUE(config::parse_byte_size(bad, v).has_value()) << bad;
  }
  std::uint64_t v = 0;
  EXPECT_FALSE(config::parse_byte_size("0x1000", v).has_value());
  EXPECT_EQ(v, 4096u);
  EXPECT_EQ(config::format_byte_size(std::uint64_t{3} << 50), "3PiB");
}

TEST(ConfigLimits, ChecksNameTheirOwnGroupsKeys) {
  // host.* and os.* share OsParams: the check names the key of the group it runs in.
  std::string e = limit_error({"host.page_fault_latency=3"});
  EXPECT_NE(e.find("host.clear_page_latency: must not exceed host.page_fault_latency (3)"),
            std::string::npos)
      << e;
  EXPECT_EQ(e.find("os.page_fault_latency"), std::string::npos) << e;
  e = limit_error({"os.page_fault_latency=3"});
  EXPECT_NE(e.find("os.clear_page_latency: must not exceed os.page_fault_latency (3)"),
            std::string::npos)
      << e;
}

}  // namespace
}  // namespace pagesim
