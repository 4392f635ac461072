// --preset host's CPUID decoding, on dumps of real parts kept in sim/preset/testdata/ (each
// file states its source and what the values mean).
#include "sim/preset/host_preset.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "base/config/schema.h"
#include "sim/preset/cpuid.h"
#include "sim/sim_params.h"

namespace pagesim::preset {
namespace {

CpuidDump testdata(const std::string& name) {
  return CpuidDump::load(std::string(PAGESIM_PRESET_TESTDATA) + "/" + name);
}

std::map<std::string, std::string> values_of(const Resolved& r) {
  std::map<std::string, std::string> out;
  for (const Assignment& a : r.values) {
    out[a.key] = a.value;
  }
  return out;
}

std::string source_of(const Resolved& r, const std::string& key) {
  for (const Assignment& a : r.values) {
    if (a.key == key) {
      return a.source;
    }
  }
  return "";
}

// The resolved host preset validates under the schema, as a named one does.
void expect_valid(const Resolved& r) {
  Configuration c;
  apply(c, r);
  EXPECT_NO_THROW(c.validate());
}

TEST(Leaf2, DescriptorsOfSkylakeServer) {
  // SDM Vol. 2A, Table 3-12.
  auto d63 = leaf2_tlbs(0x63);  // DTLB 2M/4M 32 4-way, and 1G 4 entries 4-way
  ASSERT_EQ(d63.size(), 2u);
  EXPECT_TRUE(d63[0].m2 && !d63[0].k4);
  EXPECT_EQ(d63[0].entries, 32u);
  EXPECT_EQ(d63[0].ways, 4u);
  EXPECT_TRUE(d63[1].g1);
  EXPECT_EQ(d63[1].entries, 4u);
  auto dc3 = leaf2_tlbs(0xC3);  // STLB 4K+2M 1536 6-way; 1G 16 4-way
  ASSERT_EQ(dc3.size(), 2u);
  EXPECT_EQ(dc3[0].target, Leaf2Tlb::Target::kShared);
  EXPECT_TRUE(dc3[0].k4 && dc3[0].m2);
  EXPECT_EQ(dc3[0].entries, 1536u);
  EXPECT_EQ(dc3[0].ways, 6u);
  EXPECT_EQ(dc3[1].entries, 16u);
  auto d76 = leaf2_tlbs(0x76);  // ITLB 2M/4M fully associative, 8 entries
  ASSERT_EQ(d76.size(), 1u);
  EXPECT_EQ(d76[0].target, Leaf2Tlb::Target::kInstruction);
  EXPECT_EQ(d76[0].ways, 8u);
  EXPECT_TRUE(leaf2_tlbs(0xFF).empty());  // "use leaf 4 / 0x18"
  EXPECT_TRUE(leaf2_tlbs(0xF0).empty());  // prefetching
  EXPECT_TRUE(leaf2_tlbs(0x00).empty());  // null
}

TEST(HostPreset, SkylakeServerFromLeaf2AndLeaf4) {
  const CpuidDump dump = testdata("xeon_gold_6154_skylake_sp.cpuid");
  const CpuInfo cpu = decode_cpuid(dump);
  EXPECT_EQ(cpu.vendor, Vendor::kIntel);
  EXPECT_EQ(cpu.family, 6u);
  EXPECT_EQ(cpu.model, 0x55u);
  EXPECT_FALSE(cpu.hypervisor);
  EXPECT_EQ(cpu.brand, "Intel(R) Xeon(R) Gold 6154 CPU @ 3.00GHz");
  EXPECT_EQ(closest_preset(cpu), "skylake-sp");
  EXPECT_EQ(cpu.base_mhz, 3000u);
  // L3: 11 ways x 36864 sets x 64 bytes = 24.75 MiB (1.375 MiB x 18 cores).
  ASSERT_TRUE(cpu.l3_cache);
  EXPECT_EQ(cpu.l3_cache->size_bytes, 11ull * 36864 * 64);

  const Resolved r = host_preset(dump);
  auto v = values_of(r);
  EXPECT_EQ(v["tlb.l1d.entries"], "64");
  EXPECT_EQ(v["tlb.l1d.ways"], "4");
  EXPECT_EQ(v["tlb.l1d.entries_2m"], "32");
  EXPECT_EQ(v["tlb.l1d.entries_1g"], "4");
  EXPECT_EQ(v["tlb.l1i.entries"], "64");  // descriptor B5 (the ORM says 128)
  EXPECT_EQ(v["tlb.l1i.entries_2m"], "8");
  EXPECT_EQ(v["tlb.l1i.entries_1g"], "0");
  EXPECT_EQ(v["tlb.l2.entries"], "1536");  // STLB reach 1536 x 4 KiB = 6 MiB
  EXPECT_EQ(v["tlb.l2.ways"], "6");        // descriptor C3 (the ORM says 12)
  EXPECT_EQ(v["tlb.l2.shared_2m"], "true");
  EXPECT_EQ(v["tlb.l2.entries_1g"], "16");
  EXPECT_EQ(v["cache.l1.size"], "32KiB");
  EXPECT_EQ(v["cache.l2.size"], "1MiB");
  EXPECT_EQ(v["cache.llc.size"], "22MiB");  // 36864 sets rounded down to 32768
  EXPECT_NE(source_of(r, "cache.llc.size").find("not the power of two"), std::string::npos);
  EXPECT_EQ(v["core.frequency_ghz"], "3");
  EXPECT_EQ(v["cache.llc.latency"], "60");  // assumed from skylake-sp
  EXPECT_EQ(source_of(r, "cache.llc.latency").rfind("assumed (skylake-sp preset)", 0), 0u);
  EXPECT_NE(r.report.find("read     tlb.l2.entries = 1536"), std::string::npos) << r.report;
  EXPECT_NE(r.report.find("assumed  cache.dram.latency = 210"), std::string::npos);
  expect_valid(r);
}

TEST(HostPreset, SapphireRapidsIteratesLeaf18Subleaves) {
  const CpuidDump dump = testdata("xeon_w7_2475x_sapphire_rapids.cpuid");
  const CpuInfo cpu = decode_cpuid(dump);
  EXPECT_EQ(cpu.model, 0x8fu);
  EXPECT_EQ(closest_preset(cpu), "sapphire-rapids");
  // Subleaves 1..8 (0x18.0:EAX = 8); subleaf 0 describes nothing.
  ASSERT_TRUE(cpu.l1i.k4 && cpu.l1i.m2);
  EXPECT_EQ(cpu.l1i.k4->entries, 256u);  // 0x18.1: 8 ways x 32 sets
  EXPECT_EQ(cpu.l1i.k4->ways, 8u);
  EXPECT_EQ(cpu.l1i.m2->entries, 32u);  // 0x18.2
  ASSERT_TRUE(cpu.l1d.k4 && cpu.l1d.m2 && cpu.l1d.g1);
  EXPECT_EQ(cpu.l1d.k4->entries, 64u);  // 0x18.4, load-only
  EXPECT_EQ(cpu.l1d.k4->ways, 4u);
  EXPECT_EQ(cpu.l1d.m2->entries, 32u);  // 0x18.5
  EXPECT_EQ(cpu.l1d.g1->entries, 8u);   // 0x18.6, fully associative
  EXPECT_EQ(cpu.l1d.g1->ways, 8u);
  EXPECT_FALSE(cpu.l1d.shared_2m);
  // 0x18.7 (4K+2M, 1024 8-way) and 0x18.8 (4K+1G, 1024 8-way): 4K pages in both halves.
  ASSERT_TRUE(cpu.l2.k4 && cpu.l2.g1);
  EXPECT_EQ(cpu.l2.k4->entries, 2048u);
  EXPECT_EQ(cpu.l2.k4->ways, 16u);
  EXPECT_TRUE(cpu.l2.shared_2m);
  EXPECT_EQ(cpu.l2.g1->entries, 1024u);
  // The store-only DTLB (0x18.3) is reported as not used.
  bool store_note = false;
  for (const auto& n : cpu.notes) {
    store_note = store_note || n.find("CPUID 0x18.3: a store-only TLB of 16") != std::string::npos;
  }
  EXPECT_TRUE(store_note);

  const Resolved r = host_preset(dump);
  auto v = values_of(r);
  EXPECT_EQ(v["tlb.l2.entries"], "2048");  // reach 8 MiB of 4 KiB pages
  EXPECT_EQ(v["tlb.l2.ways"], "16");
  EXPECT_EQ(v["tlb.l2.entries_1g"], "1024");
  EXPECT_EQ(v["cache.l1.size"], "48KiB");
  EXPECT_EQ(v["cache.l1.ways"], "12");
  EXPECT_EQ(v["cache.l2.size"], "2MiB");
  EXPECT_EQ(v["cache.llc.ways"], "15");
  EXPECT_EQ(v["core.frequency_ghz"], "2.6");
  EXPECT_EQ(source_of(r, "tlb.l2.entries"), "CPUID 0x18.7 + CPUID 0x18.8");
  expect_valid(r);
}

TEST(HostPreset, Zen3EpycFromExtendedLeaves) {
  const CpuidDump dump = testdata("epyc_7713_zen3.cpuid");
  const CpuInfo cpu = decode_cpuid(dump);
  EXPECT_EQ(cpu.vendor, Vendor::kAmd);
  EXPECT_EQ(cpu.family, 0x19u);
  EXPECT_EQ(cpu.model, 0x01u);
  EXPECT_EQ(closest_preset(cpu), "zen3");
  EXPECT_EQ(cpu.brand, "AMD EPYC 7713 64-Core Processor");
  ASSERT_TRUE(cpu.l3_cache);
  EXPECT_EQ(cpu.l3_cache->size_bytes, 32ull << 20);
  EXPECT_EQ(cpu.l3_cache->sharing, 16u);

  const Resolved r = host_preset(dump);
  auto v = values_of(r);
  EXPECT_EQ(v["tlb.l1d.entries"], "64");
  EXPECT_EQ(v["tlb.l1d.ways"], "64");  // fully associative
  EXPECT_EQ(v["tlb.l1d.shared_2m"], "true");
  EXPECT_EQ(v["tlb.l1d.entries_1g"], "64");
  EXPECT_EQ(v["tlb.l2.entries"], "2048");  // L2 DTLB reach 8 MiB of 4 KiB pages
  EXPECT_EQ(v["tlb.l2.ways"], "8");
  EXPECT_EQ(v["tlb.l2.entries_1g"], "64");
  EXPECT_EQ(v["cache.l2.size"], "512KiB");
  EXPECT_EQ(v["cache.llc.size"], "32MiB");
  EXPECT_EQ(v["core.frequency_ghz"], "2.45");  // no leaf 0x16 on AMD: the zen3 preset's
  // The named zen3 preset cites this very dump: host agrees with it on every TLB and cache
  // geometry key.
  Configuration named;
  apply(named, resolve("zen3"));
  for (const auto& [key, value] : v) {
    if (key.rfind("tlb.", 0) == 0 && key.find("latency") == std::string::npos) {
      EXPECT_EQ(named.schema().find(key)->value_text(), value) << key;
    }
  }
  expect_valid(r);
}

TEST(HostPreset, Zen4EpycGetsPowerOfTwoSetsForItsL2Dtlb) {
  const CpuidDump dump = testdata("epyc_9124_zen4.cpuid");
  const CpuInfo cpu = decode_cpuid(dump);
  EXPECT_EQ(cpu.model, 0x11u);
  EXPECT_EQ(closest_preset(cpu), "zen4");
  ASSERT_TRUE(cpu.l2.k4);
  EXPECT_EQ(cpu.l2.k4->entries, 3072u);
  EXPECT_EQ(cpu.l2.k4->ways, 8u);  // code 6

  const Resolved r = host_preset(dump);
  auto v = values_of(r);
  EXPECT_EQ(v["tlb.l1d.entries"], "72");
  EXPECT_EQ(v["tlb.l1d.ways"], "72");
  EXPECT_EQ(v["tlb.l1i.entries"], "64");
  EXPECT_EQ(v["tlb.l2.entries"], "3072");  // reach 12 MiB of 4 KiB pages
  EXPECT_EQ(v["tlb.l2.ways"], "12");       // 3072 / 8 = 384 sets: 12 ways make 256
  EXPECT_NE(source_of(r, "tlb.l2.ways").find("not a power of two"), std::string::npos);
  EXPECT_EQ(v["cache.l2.size"], "1MiB");
  EXPECT_EQ(v["cache.llc.size"], "16MiB");
  expect_valid(r);
}

TEST(HostPreset, ThisVmsDumpSaysItIsAGuest) {
  const CpuidDump dump = testdata("this_vm_amd_epyc_kvm.cpuid");
  const CpuInfo cpu = decode_cpuid(dump);
  EXPECT_TRUE(cpu.hypervisor);
  EXPECT_EQ(cpu.brand, "AMD EPYC");
  const Resolved r = host_preset(dump);
  EXPECT_NE(r.report.find("under a hypervisor"), std::string::npos) << r.report;
  EXPECT_EQ(values_of(r)["tlb.l2.entries"], "2048");
  expect_valid(r);
}

TEST(HostPreset, NothingReportedKeepsTheClosestPresetAndSaysSo) {
  CpuidDump empty = CpuidDump::parse("00000000 0: 00000001 756e6547 6c65746e 49656e69\n", "x");
  const Resolved r = host_preset(empty);
  for (const Assignment& a : r.values) {
    EXPECT_EQ(a.source.rfind("assumed (skylake-sp preset)", 0), 0u) << a.key << ": " << a.source;
  }
  expect_valid(r);
}

TEST(HostPreset, TheLiveCpuidDecodesToAValidConfiguration) {
  const Resolved r = host_preset(HostCpuid());
  EXPECT_FALSE(r.report.empty());
  expect_valid(r);
}

TEST(CpuidDump, ParsesAndRejectsMalformedLines) {
  const CpuidDump d = CpuidDump::parse("# c\n80000019 0: f040f040 f0400000 0 0 # x\n\n", "t");
  EXPECT_EQ(d.query(0x80000019u).eax, 0xf040f040u);
  EXPECT_EQ(d.query(0x80000019u, 1), CpuidRegs{});  // absent: zeros
  EXPECT_THROW(CpuidDump::parse("1 0 1 2 3 4\n", "t"), std::runtime_error);
  EXPECT_THROW(CpuidDump::parse("1 0: 1 2 3\n", "t"), std::runtime_error);
  // format_dump writes what parse reads.
  const CpuidDump zen3 = testdata("epyc_7713_zen3.cpuid");
  const CpuidDump again = CpuidDump::parse(format_dump(zen3, "round trip"), "again");
  for (std::uint32_t leaf : {0x80000005u, 0x80000006u, 0x80000019u}) {
    EXPECT_EQ(again.query(leaf), zen3.query(leaf));
  }
  EXPECT_EQ(again.query(0x8000001Du, 3), zen3.query(0x8000001Du, 3));
}

}  // namespace
}  // namespace pagesim::preset
