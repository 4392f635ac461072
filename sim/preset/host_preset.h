// `--preset host`: the TLBs and caches this machine's CPUID reports, on top of the named
// preset closest to it for everything CPUID does not tell (latencies, paging-structure
// cache sizes, and whatever a hypervisor filtered out).
//
// Intel (SDM Vol. 2A, CPUID): leaf 2's descriptor bytes (Table 3-12) and leaf 0x18
// (deterministic address translation parameters: one subleaf per TLB array, up to the
// subleaf leaf 0x18.0:EAX names) for the TLBs; leaf 4 (deterministic cache parameters) for
// the caches; leaf 0x16 for the base clock. Leaf 0x18, where present, replaces leaf 2's TLB
// descriptors (leaf 2 reports 0xFF, "see leaf 0x18", on the parts that have it).
// AMD (APM Vol. 3, Appendix E.4): Fn8000_0005 (L1 TLBs and caches), Fn8000_0006 (L2 TLBs,
// L2 and L3 caches), Fn8000_0019 (1 GiB TLBs), Fn8000_001D (cache topology).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/preset/cpuid.h"
#include "sim/preset/preset.h"

namespace pagesim::preset {

enum class Vendor : std::uint8_t { kIntel, kAmd, kOther };

// One TLB array as CPUID describes it. Fully associative: ways == entries.
struct TlbArray {
  std::uint32_t entries = 0;
  std::uint32_t ways = 0;
  std::string source;  // the leaf (and field) it was read from
};

struct TlbLevel {
  std::optional<TlbArray> k4;  // 4 KiB pages (and 2 MiB ones when shared_2m)
  std::optional<TlbArray> m2;  // 2/4 MiB pages, an array of their own
  std::optional<TlbArray> g1;  // 1 GiB pages
  bool shared_2m = false;      // 2 MiB pages live in the 4 KiB array
  bool any() const { return k4 || m2 || g1; }
};

struct CacheLevel {
  std::uint64_t size_bytes = 0;
  std::uint32_t ways = 0;
  std::uint32_t line_bytes = 0;
  std::uint32_t sets = 0;
  std::uint32_t sharing = 0;  // logical processors sharing it
  std::string source;
};

struct CpuInfo {
  Vendor vendor = Vendor::kOther;
  std::string vendor_id;  // "GenuineIntel", "AuthenticAMD"
  std::string brand;      // leaves 0x80000002-4, trimmed
  std::uint32_t family = 0;
  std::uint32_t model = 0;
  std::uint32_t stepping = 0;
  bool hypervisor = false;     // CPUID.1:ECX[31]
  std::uint32_t base_mhz = 0;  // Intel leaf 0x16 EAX; 0 when not reported
  TlbLevel l1d, l1i, l2;       // l2: Intel's STLB, AMD's L2 DTLB
  std::optional<CacheLevel> l1d_cache, l2_cache, l3_cache;
  std::vector<std::string> notes;  // what CPUID reported that the model does not use, and why
};

CpuInfo decode_cpuid(const CpuidSource& cpuid);

// What one leaf 2 descriptor byte says about TLBs (SDM Vol. 2A, Table 3-12); empty for a
// byte that describes no TLB (a cache, prefetch, 0xFF "see leaf 4/0x18", null, unknown).
struct Leaf2Tlb {
  enum class Target : std::uint8_t { kInstruction, kData, kShared };
  Target target = Target::kData;
  bool k4 = false;  // holds 4 KiB pages
  bool m2 = false;  // holds 2/4 MiB pages
  bool g1 = false;  // holds 1 GiB pages
  std::uint32_t entries = 0;
  std::uint32_t ways = 0;  // entries when fully associative
};
std::vector<Leaf2Tlb> leaf2_tlbs(std::uint8_t descriptor);

// The named preset closest to the processor (by vendor, family and model): skylake-sp for
// what is not recognised.
std::string closest_preset(const CpuInfo& cpu);

// The host preset from `cpuid`: every key of the closest named preset, the ones CPUID tells
// replaced by its values (source "CPUID ..."), the others marked "assumed (NAME preset)";
// `report` says which is which.
Resolved host_preset(const CpuidSource& cpuid);

}  // namespace pagesim::preset
