// The named presets. Every preset sets the same keys (tests/preset_test.cc checks it), so
// that a preset fully determines the modelled processor; each value says where it comes
// from. Sources, abbreviated in the values below:
//
//   [ORM]      Intel 64 and IA-32 Architectures Optimization Reference Manual (order number
//              248966), chapter 2: the TLB and cache parameter tables of each
//              microarchitecture (Skylake Server; Ice Lake client, whose Sunny Cove core
//              Ice Lake-SP uses; Golden Cove, the core of Sapphire Rapids).
//   [SOG19h]   AMD, Software Optimization Guide for AMD Family 19h Processors (pub. 56665):
//              Zen 3. [SOGZen4]: Software Optimization Guide for the AMD Zen4
//              Microarchitecture (pub. 57647).
//   [CPUID-SPR] CPUID leaf 0x18 of a Xeon w7-2475X (Sapphire Rapids, Golden Cove cores), as
//              sim/preset/testdata/ keeps it, decoded per the SDM Vol. 2A (CPUID leaf 18H).
//   [CPUID-Milan], [CPUID-Genoa]: CPUID Fn8000_0005, _0006, _0019 and _001D of an AMD EPYC
//              7713 (Zen 3) and an EPYC 9124 (Zen 4), as sim/preset/testdata/ keeps them,
//              decoded per AMD APM Vol. 3, Appendix E.4 (host_preset.cc does the same).
//   [C&C]      Chips and Cheese's published latency measurements of these parts; [7-cpu]
//              7-cpu.com's.
//   assumed    no public source gives the value: the reason follows.
//
// The page walkers (core.page_walkers): Skylake has two (ORM, "two page walkers" since
// Broadwell), Golden Cove four (Intel Architecture Day 2021), Zen 2 and Zen 3 two (AMD's
// optimization guides for family 17h model 30h and 19h: "two hardware page table walkers").
// They overlap walks only with core.walk_window, which no preset sets: a trace carries no
// dependences (models/walker/page_walkers.h, docs/presets.md).
#include <algorithm>

#include "sim/preset/preset.h"

namespace pagesim::preset {
namespace {

// Intel's paging-structure caches: neither the sizes nor the organisation are documented
// (SDM Vol. 3A, 4.10.3 allows them and says no more). The model's defaults (PDE cache 32,
// PDPTE 4, PML4E 2 entries) are the small sizes reverse-engineering studies report for
// Intel cores since Haswell; every Intel preset keeps them, marked assumed.
constexpr std::string_view kPscAssumed =
    "assumed: Intel documents no PSC sizes (SDM Vol. 3A 4.10.3); reverse-engineered sizes "
    "of recent Intel cores, as the default";

constexpr Value kSkylakeSp[] = {
    {"core.frequency_ghz", "2.6", "Xeon Gold 6142 base clock (Intel ARK)"},
    {"core.page_walkers", "2",
     "Intel Optimization Reference Manual: two page walkers since Broadwell"},
    // L1 DTLB
    {"tlb.l1d.entries", "64", "[ORM] Skylake: DTLB 4K 64 entries, 4-way"},
    {"tlb.l1d.ways", "4", "[ORM] Skylake: DTLB 4K 4-way"},
    {"tlb.l1d.entries_2m", "32", "[ORM] Skylake: DTLB 2M/4M 32 entries, 4-way"},
    {"tlb.l1d.ways_2m", "4", "[ORM] Skylake: DTLB 2M/4M 4-way"},
    {"tlb.l1d.entries_1g", "4", "[ORM] Skylake: DTLB 1G 4 entries, 4-way"},
    {"tlb.l1d.ways_1g", "4", "[ORM] Skylake: DTLB 1G 4-way"},
    {"tlb.l1d.shared_2m", "false", "[ORM] Skylake: separate DTLB arrays per page size"},
    {"tlb.l1d.latency", "0", "assumed: the L1 DTLB lookup overlaps the VIPT L1D access"},
    // L1 ITLB
    {"tlb.l1i.entries", "128",
     "[ORM] Skylake: ITLB 4K 128 entries, 8-way (CPUID leaf 2 of a Xeon Gold 6154 reports 64: "
     "descriptor B5h; the defaults keep the manual's figure)"},
    {"tlb.l1i.ways", "8", "[ORM] Skylake: ITLB 4K 8-way"},
    {"tlb.l1i.entries_2m", "8", "[ORM] Skylake: ITLB 2M/4M 8 entries, fully associative"},
    {"tlb.l1i.ways_2m", "8", "[ORM] Skylake: ITLB 2M/4M fully associative"},
    {"tlb.l1i.entries_1g", "0", "[ORM] Skylake: no ITLB entries for 1G pages"},
    {"tlb.l1i.ways_1g", "1", "unused (no 1G ITLB)"},
    {"tlb.l1i.shared_2m", "false", "[ORM] Skylake: separate ITLB arrays per page size"},
    {"tlb.l1i.latency", "0", "assumed: the ITLB lookup overlaps the L1I access"},
    // STLB
    {"tlb.l2.entries", "1536", "[ORM] Skylake: STLB 4K+2M shared, 1536 entries, 12-way"},
    {"tlb.l2.ways", "12",
     "[ORM] Skylake: STLB 12-way (CPUID leaf 2 of a Xeon Gold 6154 reports 6-way: descriptor "
     "C3h; the defaults keep the manual's figure)"},
    {"tlb.l2.entries_2m", "0", "[ORM] Skylake: 2M pages share the 4K STLB array"},
    {"tlb.l2.ways_2m", "1", "unused (2M shares the 4K array)"},
    {"tlb.l2.entries_1g", "16", "[ORM] Skylake: STLB 1G 16 entries, 4-way"},
    {"tlb.l2.ways_1g", "4", "[ORM] Skylake: STLB 1G 4-way"},
    {"tlb.l2.shared_2m", "true", "[ORM] Skylake: STLB shared by 4K and 2M pages"},
    {"tlb.l2.latency", "9",
     "assumed: Intel documents no STLB hit latency; microbenchmarks report 7-12 cycles"},
    // Paging-structure caches (guest/native, and the EPT's)
    {"walker.pwc.enabled", "true", "SDM Vol. 3A 4.10.3: Intel cores cache paging structures"},
    {"walker.pwc.pml5.entries", "2", kPscAssumed},
    {"walker.pwc.pml5.ways", "2", kPscAssumed},
    {"walker.pwc.pml4.entries", "2", kPscAssumed},
    {"walker.pwc.pml4.ways", "2", kPscAssumed},
    {"walker.pwc.pdpt.entries", "4", kPscAssumed},
    {"walker.pwc.pdpt.ways", "4", kPscAssumed},
    {"walker.pwc.pd.entries", "32", kPscAssumed},
    {"walker.pwc.pd.ways", "4", kPscAssumed},
    {"walker.ept_pwc.enabled", "true", "SDM Vol. 3C 'Caching Translation Information': EPT PSCs"},
    {"walker.ept_pwc.pml5.entries", "2", kPscAssumed},
    {"walker.ept_pwc.pml5.ways", "2", kPscAssumed},
    {"walker.ept_pwc.pml4.entries", "2", kPscAssumed},
    {"walker.ept_pwc.pml4.ways", "2", kPscAssumed},
    {"walker.ept_pwc.pdpt.entries", "4", kPscAssumed},
    {"walker.ept_pwc.pdpt.ways", "4", kPscAssumed},
    {"walker.ept_pwc.pd.entries", "32", kPscAssumed},
    {"walker.ept_pwc.pd.ways", "4", kPscAssumed},
    {"walker.ntlb.enabled", "false", "Intel documents no nested TLB (an AMD design)"},
    {"walker.ntlb.entries", "16", "unused (off)"},
    {"walker.ntlb.ways", "4", "unused (off)"},
    {"walker.pte_cache.enabled", "false", "Intel caches by linear address (PSCs), not by HPA"},
    {"walker.pte_cache.entries", "32", "unused (off)"},
    {"walker.pte_cache.ways", "4", "unused (off)"},
    // Caches and memory
    {"cache.line_bytes", "64", "[ORM] 64-byte lines"},
    {"cache.l1.size", "32KiB", "[ORM] Skylake Server: L1D 32 KiB, 8-way"},
    {"cache.l1.ways", "8", "[ORM] Skylake Server: L1D 8-way"},
    {"cache.l1.latency", "4", "[ORM] Skylake Server: L1D 4 cycles load-to-use"},
    {"cache.l2.size", "1MiB", "[ORM] Skylake Server: L2 1 MiB, 16-way"},
    {"cache.l2.ways", "16", "[ORM] Skylake Server: L2 16-way"},
    {"cache.l2.latency", "14", "[ORM] Skylake Server: L2 14 cycles"},
    {"cache.llc.size", "22MiB",
     "[ORM] Skylake Server: 1.375 MiB of L3 per core, 11-way; 16 cores of a Gold 6142"},
    {"cache.llc.ways", "11", "[ORM] Skylake Server: L3 11-way"},
    {"cache.llc.latency", "60", "[ORM] Skylake Server: L3 50-70 cycles"},
    {"cache.dram.latency", "210",
     "assumed: ~80 ns idle load latency of a Skylake-SP socket at 2.6 GHz (measure with MLC)"},
};

// Ice Lake-SP: Sunny Cove cores; the part, a Xeon Platinum 8352Y (32 cores, 2.2 GHz, 48 MiB
// L3), gives an L3 whose set count is a power of two, as the cache model needs.
constexpr Value kIcelakeSp[] = {
    {"core.frequency_ghz", "2.2", "Xeon Platinum 8352Y base clock (Intel ARK)"},
    {"core.page_walkers", "2", "assumed: Skylake's two (no public source gives Sunny Cove's)"},
    {"tlb.l1d.entries", "64", "[ORM] Ice Lake (Sunny Cove): load DTLB 4K 64 entries, 4-way"},
    {"tlb.l1d.ways", "4", "[ORM] Sunny Cove: load DTLB 4K 4-way"},
    {"tlb.l1d.entries_2m", "32", "[ORM] Sunny Cove: load DTLB 2M/4M 32 entries, 4-way"},
    {"tlb.l1d.ways_2m", "4", "[ORM] Sunny Cove: load DTLB 2M/4M 4-way"},
    {"tlb.l1d.entries_1g", "8", "[ORM] Sunny Cove: load DTLB 1G 8 entries, fully associative"},
    {"tlb.l1d.ways_1g", "8", "[ORM] Sunny Cove: load DTLB 1G fully associative"},
    {"tlb.l1d.shared_2m", "false",
     "[ORM] Sunny Cove: separate load DTLB arrays per page size "
     "(the 16-entry store DTLB is not modelled)"},
    {"tlb.l1d.latency", "0", "assumed: the L1 DTLB lookup overlaps the VIPT L1D access"},
    {"tlb.l1i.entries", "128", "[ORM] Sunny Cove: ITLB 4K 128 entries, 8-way"},
    {"tlb.l1i.ways", "8", "[ORM] Sunny Cove: ITLB 4K 8-way"},
    {"tlb.l1i.entries_2m", "16", "[ORM] Sunny Cove: ITLB 2M/4M 16 entries"},
    {"tlb.l1i.ways_2m", "16",
     "assumed: fully associative, as Skylake's 2M ITLB (the ORM gives the entries only)"},
    {"tlb.l1i.entries_1g", "0", "[ORM] Sunny Cove: no ITLB entries for 1G pages"},
    {"tlb.l1i.ways_1g", "1", "unused (no 1G ITLB)"},
    {"tlb.l1i.shared_2m", "false", "[ORM] Sunny Cove: separate ITLB arrays per page size"},
    {"tlb.l1i.latency", "0", "assumed: the ITLB lookup overlaps the L1I access"},
    {"tlb.l2.entries", "2048", "[ORM] Sunny Cove: STLB 4K+2M/4M shared, 2048 entries, 16-way"},
    {"tlb.l2.ways", "16", "[ORM] Sunny Cove: STLB 16-way"},
    {"tlb.l2.entries_2m", "0", "[ORM] Sunny Cove: 2M pages share the 4K STLB array"},
    {"tlb.l2.ways_2m", "1", "unused (2M shares the 4K array)"},
    {"tlb.l2.entries_1g", "1024", "[ORM] Sunny Cove: STLB 1G 1024 entries, 8-way"},
    {"tlb.l2.ways_1g", "8", "[ORM] Sunny Cove: STLB 1G 8-way"},
    {"tlb.l2.shared_2m", "true", "[ORM] Sunny Cove: STLB shared by 4K and 2M pages"},
    {"tlb.l2.latency", "9", "assumed: Intel documents no STLB hit latency; Skylake's 9 kept"},
    {"walker.pwc.enabled", "true", "SDM Vol. 3A 4.10.3: Intel cores cache paging structures"},
    {"walker.pwc.pml5.entries", "2", kPscAssumed},
    {"walker.pwc.pml5.ways", "2", kPscAssumed},
    {"walker.pwc.pml4.entries", "2", kPscAssumed},
    {"walker.pwc.pml4.ways", "2", kPscAssumed},
    {"walker.pwc.pdpt.entries", "4", kPscAssumed},
    {"walker.pwc.pdpt.ways", "4", kPscAssumed},
    {"walker.pwc.pd.entries", "32", kPscAssumed},
    {"walker.pwc.pd.ways", "4", kPscAssumed},
    {"walker.ept_pwc.enabled", "true", "SDM Vol. 3C 'Caching Translation Information': EPT PSCs"},
    {"walker.ept_pwc.pml5.entries", "2", kPscAssumed},
    {"walker.ept_pwc.pml5.ways", "2", kPscAssumed},
    {"walker.ept_pwc.pml4.entries", "2", kPscAssumed},
    {"walker.ept_pwc.pml4.ways", "2", kPscAssumed},
    {"walker.ept_pwc.pdpt.entries", "4", kPscAssumed},
    {"walker.ept_pwc.pdpt.ways", "4", kPscAssumed},
    {"walker.ept_pwc.pd.entries", "32", kPscAssumed},
    {"walker.ept_pwc.pd.ways", "4", kPscAssumed},
    {"walker.ntlb.enabled", "false", "Intel documents no nested TLB (an AMD design)"},
    {"walker.ntlb.entries", "16", "unused (off)"},
    {"walker.ntlb.ways", "4", "unused (off)"},
    {"walker.pte_cache.enabled", "false", "Intel caches by linear address (PSCs), not by HPA"},
    {"walker.pte_cache.entries", "32", "unused (off)"},
    {"walker.pte_cache.ways", "4", "unused (off)"},
    {"cache.line_bytes", "64", "[ORM] 64-byte lines"},
    {"cache.l1.size", "48KiB", "[ORM] Sunny Cove: L1D 48 KiB, 12-way"},
    {"cache.l1.ways", "12", "[ORM] Sunny Cove: L1D 12-way"},
    {"cache.l1.latency", "5", "[ORM] Sunny Cove: L1D 5 cycles load-to-use"},
    {"cache.l2.size", "1280KiB", "Ice Lake-SP: L2 1.25 MiB per core, 20-way (Intel)"},
    {"cache.l2.ways", "20", "Ice Lake-SP: L2 20-way (CPUID leaf 4 of the part)"},
    {"cache.l2.latency", "14", "[C&C], [7-cpu]: Ice Lake L2 about 14 cycles"},
    {"cache.llc.size", "48MiB", "Xeon Platinum 8352Y: 48 MiB L3 (1.5 MiB per core), 12-way"},
    {"cache.llc.ways", "12", "Ice Lake-SP: L3 12-way (CPUID leaf 4 of the part)"},
    {"cache.llc.latency", "75",
     "assumed: [C&C] measure Ice Lake-SP's mesh L3 at about 25 ns at up to 3 GHz; "
     "rounded to 75 cycles"},
    {"cache.dram.latency", "135",
     "assumed: ~95 ns idle DRAM latency at 2.2 GHz (209 cycles) less the L3's 75"},
};

// Sapphire Rapids: Golden Cove cores; the part, a Xeon Platinum 8462Y+ (32 cores, 2.8 GHz,
// 60 MiB L3: 65536 sets of 15 ways, a power of two).
constexpr Value kSapphireRapids[] = {
    {"core.frequency_ghz", "2.8", "Xeon Platinum 8462Y+ base clock (Intel ARK)"},
    {"core.page_walkers", "4", "Golden Cove: four page walkers (Intel Architecture Day 2021)"},
    {"tlb.l1d.entries", "64",
     "[CPUID-SPR] leaf 0x18 subleaf 4: load DTLB 4K 64 entries (16 sets), 4-way"},
    {"tlb.l1d.ways", "4", "[CPUID-SPR] leaf 0x18 subleaf 4: 4-way"},
    {"tlb.l1d.entries_2m", "32", "[ORM], [CPUID-SPR] 0x18.5: load DTLB 2M/4M 32 entries, 4-way"},
    {"tlb.l1d.ways_2m", "4", "[ORM] Golden Cove: load DTLB 2M/4M 4-way"},
    {"tlb.l1d.entries_1g", "8",
     "[ORM], [CPUID-SPR] 0x18.6: load DTLB 1G 8 entries, fully associative"},
    {"tlb.l1d.ways_1g", "8", "[ORM] Golden Cove: load DTLB 1G 8-way"},
    {"tlb.l1d.shared_2m", "false",
     "[CPUID-SPR]: separate load DTLB arrays per page size (the 16-entry store DTLB, 0x18.3, "
     "is not modelled)"},
    {"tlb.l1d.latency", "0", "assumed: the L1 DTLB lookup overlaps the VIPT L1D access"},
    {"tlb.l1i.entries", "256", "[ORM], [CPUID-SPR] 0x18.1: ITLB 4K 256 entries, 8-way"},
    {"tlb.l1i.ways", "8", "[ORM] Golden Cove: ITLB 4K 8-way"},
    {"tlb.l1i.entries_2m", "32", "[ORM], [CPUID-SPR] 0x18.2: ITLB 2M/4M 32 entries, 8-way"},
    {"tlb.l1i.ways_2m", "8", "[ORM] Golden Cove: ITLB 2M/4M 8-way"},
    {"tlb.l1i.entries_1g", "0", "[ORM] Golden Cove: no ITLB entries for 1G pages"},
    {"tlb.l1i.ways_1g", "1", "unused (no 1G ITLB)"},
    {"tlb.l1i.shared_2m", "false", "[ORM] Golden Cove: separate ITLB arrays per page size"},
    {"tlb.l1i.latency", "0", "assumed: the ITLB lookup overlaps the L1I access"},
    {"tlb.l2.entries", "2048",
     "[ORM]; [CPUID-SPR] 0x18.7 and 0x18.8: two 1024-entry 8-way halves, 4K+2M and 4K+1G"},
    {"tlb.l2.ways", "16", "[ORM] Golden Cove: STLB 16-way"},
    {"tlb.l2.entries_2m", "0", "[ORM] Golden Cove: 2M pages share the 4K STLB array"},
    {"tlb.l2.ways_2m", "1", "unused (2M shares the 4K array)"},
    {"tlb.l2.entries_1g", "1024",
     "[CPUID-SPR] 0x18.8: 1G pages in the 1024-entry 8-way half (shared with 4K pages; the "
     "model gives them an array of their own)"},
    {"tlb.l2.ways_1g", "8", "[ORM] Golden Cove: STLB 1G 8-way"},
    {"tlb.l2.shared_2m", "true", "[ORM] Golden Cove: STLB shared by 4K and 2M pages"},
    {"tlb.l2.latency", "9", "assumed: Intel documents no STLB hit latency; Skylake's 9 kept"},
    {"walker.pwc.enabled", "true", "SDM Vol. 3A 4.10.3: Intel cores cache paging structures"},
    {"walker.pwc.pml5.entries", "2", kPscAssumed},
    {"walker.pwc.pml5.ways", "2", kPscAssumed},
    {"walker.pwc.pml4.entries", "2", kPscAssumed},
    {"walker.pwc.pml4.ways", "2", kPscAssumed},
    {"walker.pwc.pdpt.entries", "4", kPscAssumed},
    {"walker.pwc.pdpt.ways", "4", kPscAssumed},
    {"walker.pwc.pd.entries", "32", kPscAssumed},
    {"walker.pwc.pd.ways", "4", kPscAssumed},
    {"walker.ept_pwc.enabled", "true", "SDM Vol. 3C 'Caching Translation Information': EPT PSCs"},
    {"walker.ept_pwc.pml5.entries", "2", kPscAssumed},
    {"walker.ept_pwc.pml5.ways", "2", kPscAssumed},
    {"walker.ept_pwc.pml4.entries", "2", kPscAssumed},
    {"walker.ept_pwc.pml4.ways", "2", kPscAssumed},
    {"walker.ept_pwc.pdpt.entries", "4", kPscAssumed},
    {"walker.ept_pwc.pdpt.ways", "4", kPscAssumed},
    {"walker.ept_pwc.pd.entries", "32", kPscAssumed},
    {"walker.ept_pwc.pd.ways", "4", kPscAssumed},
    {"walker.ntlb.enabled", "false", "Intel documents no nested TLB (an AMD design)"},
    {"walker.ntlb.entries", "16", "unused (off)"},
    {"walker.ntlb.ways", "4", "unused (off)"},
    {"walker.pte_cache.enabled", "false", "Intel caches by linear address (PSCs), not by HPA"},
    {"walker.pte_cache.entries", "32", "unused (off)"},
    {"walker.pte_cache.ways", "4", "unused (off)"},
    {"cache.line_bytes", "64", "[ORM] 64-byte lines"},
    {"cache.l1.size", "48KiB", "[ORM] Golden Cove: L1D 48 KiB, 12-way"},
    {"cache.l1.ways", "12", "[ORM] Golden Cove: L1D 12-way"},
    {"cache.l1.latency", "5", "[ORM] Golden Cove: L1D 5 cycles load-to-use"},
    {"cache.l2.size", "2MiB", "Sapphire Rapids: L2 2 MiB per core, 16-way (Intel)"},
    {"cache.l2.ways", "16", "Sapphire Rapids: L2 16-way"},
    {"cache.l2.latency", "16", "[ORM] Golden Cove: L2 15-16 cycles; [C&C] 16 on Sapphire Rapids"},
    {"cache.llc.size", "60MiB", "Xeon Platinum 8462Y+: 60 MiB L3 (1.875 MiB per core), 15-way"},
    {"cache.llc.ways", "15", "Sapphire Rapids: L3 15-way (CPUID leaf 4 of the part)"},
    {"cache.llc.latency", "100",
     "assumed: [C&C] measure Sapphire Rapids' L3 at about 33 ns; at 3 GHz, 100 cycles"},
    {"cache.dram.latency", "210",
     "assumed: ~110 ns idle DDR5 latency at 2.8 GHz (308 cycles) less the L3's 100"},
};

// AMD's page-walk structures. The L2 DTLB also holds page directory entries ([SOG19h],
// [SOGZen4]: "to speed up DTLB and ITLB table walks"); the sizes of that part and of the
// page-walk cache are not documented. The native walk keeps the model's linear-address PSCs
// (walker.pwc) for it, at the sizes of the Intel presets; a nested walk uses AMD's PWC by
// physical address (walker.pte_cache) and nested TLB (walker.ntlb) in place of EPT PSCs
// (Bhargava et al., ASPLOS 2008, describe both for AMD's Barcelona; sizes assumed).
constexpr std::string_view kAmdPwcAssumed =
    "assumed: AMD documents the PDE caching of its L2 DTLB but no size; as the Intel presets";

constexpr Value kZen3[] = {
    {"core.frequency_ghz", "2.45", "EPYC 7763 base clock (AMD)"},
    {"core.page_walkers", "2",
     "AMD family 19h optimization guide: two hardware page table walkers"},
    {"tlb.l1d.entries", "64",
     "[SOG19h], [CPUID-Milan] Fn8000_0005 EBX: L1 DTLB 64 entries, "
     "fully associative, all page sizes"},
    {"tlb.l1d.ways", "64", "[CPUID-Milan] Fn8000_0005: fully associative (ways = entries)"},
    {"tlb.l1d.entries_2m", "0", "[SOG19h]: one L1 DTLB for every page size (shared_2m)"},
    {"tlb.l1d.ways_2m", "1", "unused (2M shares the 4K array)"},
    {"tlb.l1d.entries_1g", "64",
     "[CPUID-Milan] Fn8000_0019 EAX: 64 entries for 1G; the model gives 1G an array of its "
     "own (hardware shares the 64)"},
    {"tlb.l1d.ways_1g", "64", "[CPUID-Milan] Fn8000_0019: fully associative"},
    {"tlb.l1d.shared_2m", "true", "[SOG19h]: 4K and 2M pages in one L1 DTLB"},
    {"tlb.l1d.latency", "0", "assumed: the L1 DTLB lookup overlaps the L1D access"},
    {"tlb.l1i.entries", "64",
     "[SOG19h], [CPUID-Milan] Fn8000_0005 EBX: L1 ITLB 64 entries, "
     "fully associative, all page sizes"},
    {"tlb.l1i.ways", "64", "[CPUID-Milan] Fn8000_0005: fully associative"},
    {"tlb.l1i.entries_2m", "0", "[SOG19h]: one L1 ITLB for every page size (shared_2m)"},
    {"tlb.l1i.ways_2m", "1", "unused (2M shares the 4K array)"},
    {"tlb.l1i.entries_1g", "64", "[CPUID-Milan] Fn8000_0019 EAX: L1 ITLB 1G 64 entries"},
    {"tlb.l1i.ways_1g", "64", "[CPUID-Milan] Fn8000_0019: fully associative"},
    {"tlb.l1i.shared_2m", "true", "[SOG19h]: 4K and 2M pages in one L1 ITLB"},
    {"tlb.l1i.latency", "0", "assumed: the ITLB lookup overlaps the L1I access"},
    {"tlb.l2.entries", "2048",
     "[SOG19h], [CPUID-Milan] Fn8000_0006 EBX: L2 DTLB 2048 entries (the 512-entry L2 ITLB "
     "is not modelled: tlb.l2 serves both sides)"},
    {"tlb.l2.ways", "8", "[CPUID-Milan] Fn8000_0006 EBX: 8-way for 4K pages"},
    {"tlb.l2.entries_2m", "0", "[SOG19h]: 2M pages share the L2 DTLB (shared_2m)"},
    {"tlb.l2.ways_2m", "1", "unused (2M shares the 4K array)"},
    {"tlb.l2.entries_1g", "64", "[CPUID-Milan] Fn8000_0019 EBX: L2 DTLB 1G 64 entries"},
    {"tlb.l2.ways_1g", "64", "[CPUID-Milan] Fn8000_0019 EBX: fully associative"},
    {"tlb.l2.shared_2m", "true", "[SOG19h]: the L2 DTLB holds 4K and 2M pages"},
    {"tlb.l2.latency", "7",
     "assumed: AMD documents none; [7-cpu] reports about 7 cycles for an L2 TLB hit on Zen"},
    {"walker.pwc.enabled", "true", "[SOG19h]: the L2 DTLB caches PDEs for table walks"},
    {"walker.pwc.pml5.entries", "2", kAmdPwcAssumed},
    {"walker.pwc.pml5.ways", "2", kAmdPwcAssumed},
    {"walker.pwc.pml4.entries", "2", kAmdPwcAssumed},
    {"walker.pwc.pml4.ways", "2", kAmdPwcAssumed},
    {"walker.pwc.pdpt.entries", "4", kAmdPwcAssumed},
    {"walker.pwc.pdpt.ways", "4", kAmdPwcAssumed},
    {"walker.pwc.pd.entries", "32", kAmdPwcAssumed},
    {"walker.pwc.pd.ways", "4", kAmdPwcAssumed},
    {"walker.ept_pwc.enabled", "false",
     "AMD's nested walk caches NPT entries by physical address (walker.pte_cache)"},
    {"walker.ept_pwc.pml5.entries", "2", "unused (off)"},
    {"walker.ept_pwc.pml5.ways", "2", "unused (off)"},
    {"walker.ept_pwc.pml4.entries", "2", "unused (off)"},
    {"walker.ept_pwc.pml4.ways", "2", "unused (off)"},
    {"walker.ept_pwc.pdpt.entries", "4", "unused (off)"},
    {"walker.ept_pwc.pdpt.ways", "4", "unused (off)"},
    {"walker.ept_pwc.pd.entries", "32", "unused (off)"},
    {"walker.ept_pwc.pd.ways", "4", "unused (off)"},
    {"walker.ntlb.enabled", "true", "AMD's nested TLB (Bhargava et al., ASPLOS 2008)"},
    {"walker.ntlb.entries", "16", "assumed: AMD documents no nested TLB size"},
    {"walker.ntlb.ways", "4", "assumed: AMD documents no nested TLB organisation"},
    {"walker.pte_cache.enabled", "true",
     "AMD's page-walk cache by physical address (Bhargava et al.; Barr et al., ISCA 2010)"},
    {"walker.pte_cache.entries", "32", "assumed: AMD documents no PWC size"},
    {"walker.pte_cache.ways", "4", "assumed: AMD documents no PWC organisation"},
    {"cache.line_bytes", "64", "[CPUID-Milan] Fn8000_001D: 64-byte lines"},
    {"cache.l1.size", "32KiB", "[SOG19h], [CPUID-Milan] Fn8000_001D subleaf 0: L1D 32 KiB, 8-way"},
    {"cache.l1.ways", "8", "[CPUID-Milan] Fn8000_001D subleaf 0: 8-way"},
    {"cache.l1.latency", "4", "[SOG19h]: L1D 4 cycles load-to-use (integer)"},
    {"cache.l2.size", "512KiB", "[SOG19h], [CPUID-Milan] Fn8000_001D subleaf 2: L2 512 KiB, 8-way"},
    {"cache.l2.ways", "8", "[CPUID-Milan] Fn8000_001D subleaf 2: 8-way"},
    {"cache.l2.latency", "12", "[SOG19h]: L2 12 cycles"},
    {"cache.llc.size", "32MiB",
     "[SOG19h], [CPUID-Milan] Fn8000_001D subleaf 3: L3 32 MiB per CCD (the 8 cores a core "
     "shares it with), 16-way"},
    {"cache.llc.ways", "16", "[CPUID-Milan] Fn8000_001D subleaf 3: 16-way"},
    {"cache.llc.latency", "46", "[SOG19h]: L3 46 cycles on average; [C&C] about 47"},
    {"cache.dram.latency", "225",
     "assumed: ~110 ns idle DDR4 latency of an EPYC 7003 socket (NPS1, [C&C]) at 2.45 GHz "
     "(270 cycles) less the L3's 46"},
};

constexpr Value kZen4[] = {
    {"core.frequency_ghz", "2.4", "EPYC 9654 base clock (AMD)"},
    {"core.page_walkers", "2", "assumed: Zen 3's two (the family 19h guide's count)"},
    {"tlb.l1d.entries", "72",
     "[SOGZen4], [CPUID-Genoa] Fn8000_0005 EBX: L1 DTLB 72 entries, "
     "fully associative, all page sizes"},
    {"tlb.l1d.ways", "72", "[CPUID-Genoa] Fn8000_0005: fully associative (ways = entries)"},
    {"tlb.l1d.entries_2m", "0", "[SOGZen4]: one L1 DTLB for every page size (shared_2m)"},
    {"tlb.l1d.ways_2m", "1", "unused (2M shares the 4K array)"},
    {"tlb.l1d.entries_1g", "72",
     "[CPUID-Genoa] Fn8000_0019 EAX: 72 entries for 1G; the model gives 1G an array of its "
     "own (hardware shares the 72)"},
    {"tlb.l1d.ways_1g", "72", "[CPUID-Genoa] Fn8000_0019: fully associative"},
    {"tlb.l1d.shared_2m", "true", "[SOGZen4]: 4K and 2M pages in one L1 DTLB"},
    {"tlb.l1d.latency", "0", "assumed: the L1 DTLB lookup overlaps the L1D access"},
    {"tlb.l1i.entries", "64",
     "[SOGZen4], [CPUID-Genoa] Fn8000_0005 EBX: L1 ITLB 64 entries, "
     "fully associative, all page sizes"},
    {"tlb.l1i.ways", "64", "[CPUID-Genoa] Fn8000_0005: fully associative"},
    {"tlb.l1i.entries_2m", "0", "[SOGZen4]: one L1 ITLB for every page size (shared_2m)"},
    {"tlb.l1i.ways_2m", "1", "unused (2M shares the 4K array)"},
    {"tlb.l1i.entries_1g", "64", "[CPUID-Genoa] Fn8000_0019 EAX: L1 ITLB 1G 64 entries"},
    {"tlb.l1i.ways_1g", "64", "[CPUID-Genoa] Fn8000_0019: fully associative"},
    {"tlb.l1i.shared_2m", "true", "[SOGZen4]: 4K and 2M pages in one L1 ITLB"},
    {"tlb.l1i.latency", "0", "assumed: the ITLB lookup overlaps the L1I access"},
    {"tlb.l2.entries", "3072",
     "[SOGZen4], [CPUID-Genoa] Fn8000_0006 EBX: L2 DTLB 3072 entries (the 512-entry L2 ITLB "
     "is not modelled: tlb.l2 serves both sides)"},
    {"tlb.l2.ways", "12",
     "assumed: CPUID reports 8-way for 4K pages (6-way for 2M: a skewed array), but 3072 / 8 "
     "= 384 sets is not the power of two the model indexes; 12 ways make 256 sets"},
    {"tlb.l2.entries_2m", "0", "[SOGZen4]: 2M pages share the L2 DTLB (shared_2m)"},
    {"tlb.l2.ways_2m", "1", "unused (2M shares the 4K array)"},
    {"tlb.l2.entries_1g", "64", "[CPUID-Genoa] Fn8000_0019 EBX: L2 DTLB 1G 64 entries"},
    {"tlb.l2.ways_1g", "64", "[CPUID-Genoa] Fn8000_0019 EBX: fully associative"},
    {"tlb.l2.shared_2m", "true", "[SOGZen4]: the L2 DTLB holds 4K and 2M pages"},
    {"tlb.l2.latency", "7",
     "assumed: AMD documents none; [7-cpu] reports about 7 cycles for an L2 TLB hit on Zen"},
    {"walker.pwc.enabled", "true", "[SOGZen4]: the L2 DTLB caches PDEs for table walks"},
    {"walker.pwc.pml5.entries", "2", kAmdPwcAssumed},
    {"walker.pwc.pml5.ways", "2", kAmdPwcAssumed},
    {"walker.pwc.pml4.entries", "2", kAmdPwcAssumed},
    {"walker.pwc.pml4.ways", "2", kAmdPwcAssumed},
    {"walker.pwc.pdpt.entries", "4", kAmdPwcAssumed},
    {"walker.pwc.pdpt.ways", "4", kAmdPwcAssumed},
    {"walker.pwc.pd.entries", "32", kAmdPwcAssumed},
    {"walker.pwc.pd.ways", "4", kAmdPwcAssumed},
    {"walker.ept_pwc.enabled", "false",
     "AMD's nested walk caches NPT entries by physical address (walker.pte_cache)"},
    {"walker.ept_pwc.pml5.entries", "2", "unused (off)"},
    {"walker.ept_pwc.pml5.ways", "2", "unused (off)"},
    {"walker.ept_pwc.pml4.entries", "2", "unused (off)"},
    {"walker.ept_pwc.pml4.ways", "2", "unused (off)"},
    {"walker.ept_pwc.pdpt.entries", "4", "unused (off)"},
    {"walker.ept_pwc.pdpt.ways", "4", "unused (off)"},
    {"walker.ept_pwc.pd.entries", "32", "unused (off)"},
    {"walker.ept_pwc.pd.ways", "4", "unused (off)"},
    {"walker.ntlb.enabled", "true", "AMD's nested TLB (Bhargava et al., ASPLOS 2008)"},
    {"walker.ntlb.entries", "16", "assumed: AMD documents no nested TLB size"},
    {"walker.ntlb.ways", "4", "assumed: AMD documents no nested TLB organisation"},
    {"walker.pte_cache.enabled", "true",
     "AMD's page-walk cache by physical address (Bhargava et al.; Barr et al., ISCA 2010)"},
    {"walker.pte_cache.entries", "32", "assumed: AMD documents no PWC size"},
    {"walker.pte_cache.ways", "4", "assumed: AMD documents no PWC organisation"},
    {"cache.line_bytes", "64", "[CPUID-Genoa] Fn8000_001D: 64-byte lines"},
    {"cache.l1.size", "32KiB", "[SOGZen4], [CPUID-Genoa] Fn8000_001D subleaf 0: L1D 32 KiB, 8-way"},
    {"cache.l1.ways", "8", "[CPUID-Genoa] Fn8000_001D subleaf 0: 8-way"},
    {"cache.l1.latency", "4", "[SOGZen4]: L1D 4 cycles load-to-use (integer)"},
    {"cache.l2.size", "1MiB", "[SOGZen4], [CPUID-Genoa] Fn8000_001D subleaf 2: L2 1 MiB, 8-way"},
    {"cache.l2.ways", "8", "[CPUID-Genoa] Fn8000_001D subleaf 2: 8-way"},
    {"cache.l2.latency", "14", "[SOGZen4]: L2 14 cycles"},
    {"cache.llc.size", "32MiB",
     "[SOGZen4]: L3 32 MiB per CCD of an EPYC 9654, 16-way (the EPYC 9124 of [CPUID-Genoa] "
     "has 16 MiB per CCD)"},
    {"cache.llc.ways", "16", "[CPUID-Genoa] Fn8000_001D subleaf 3: 16-way"},
    {"cache.llc.latency", "50", "[SOGZen4]: L3 50 cycles on average; [C&C] about 50"},
    {"cache.dram.latency", "225",
     "assumed: ~115 ns idle DDR5 latency of an EPYC 9004 socket (NPS1, [C&C]) at 2.4 GHz "
     "(276 cycles) less the L3's 50"},
};

constexpr Preset kPresets[] = {
    {"skylake-sp", "Intel Xeon Gold 6142 (Skylake-SP), the built-in defaults", kSkylakeSp},
    {"icelake-sp", "Intel Xeon Platinum 8352Y (Ice Lake-SP, Sunny Cove cores)", kIcelakeSp},
    {"sapphire-rapids", "Intel Xeon Platinum 8462Y+ (Sapphire Rapids, Golden Cove cores)",
     kSapphireRapids},
    {"zen3", "AMD EPYC 7763 (Milan, Zen 3)", kZen3},
    {"zen4", "AMD EPYC 9654 (Genoa, Zen 4)", kZen4},
};

}  // namespace

std::span<const Preset> named_presets() { return kPresets; }

const Preset* find_named(std::string_view name) {
  const auto it = std::find_if(std::begin(kPresets), std::end(kPresets),
                               [name](const Preset& p) { return p.name == name; });
  return it == std::end(kPresets) ? nullptr : &*it;
}

std::string preset_names() {
  std::string out;
  for (const Preset& p : kPresets) {
    out += std::string(p.name) + ", ";
  }
  return out + "host";
}

}  // namespace pagesim::preset
