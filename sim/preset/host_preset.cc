#include "sim/preset/host_preset.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>

#include "base/config/geometry.h"
#include "base/config/value_traits.h"

namespace pagesim::preset {
namespace {

std::string hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

// "CPUID 0x18.3": a leaf with subleaves, and the subleaf.
std::string regs_text(std::uint32_t leaf, std::uint32_t subleaf) {
  return "CPUID " + hex(leaf) + "." + std::to_string(subleaf);
}

// SDM Vol. 2A, CPUID, Table 3-12 "Encoding of CPUID Leaf 2 Descriptors": the TLB ones.
// Fully associative arrays have ways == entries. DTLB0/DTLB1/uTLB of older cores are all
// data TLBs of the first level here; "STLB"/"shared 2nd-level TLB" is the second level.
struct Leaf2Row {
  std::uint8_t descriptor;
  Leaf2Tlb tlb;
};
using T = Leaf2Tlb::Target;
constexpr Leaf2Row kLeaf2[] = {
    {0x01, {T::kInstruction, true, false, false, 32, 4}},
    {0x02, {T::kInstruction, false, true, false, 2, 2}},
    {0x03, {T::kData, true, false, false, 64, 4}},
    {0x04, {T::kData, false, true, false, 8, 4}},
    {0x05, {T::kData, false, true, false, 32, 4}},
    {0x0B, {T::kInstruction, false, true, false, 4, 4}},
    {0x4F, {T::kInstruction, true, false, false, 32, 32}},
    {0x50, {T::kInstruction, true, true, false, 64, 64}},
    {0x51, {T::kInstruction, true, true, false, 128, 128}},
    {0x52, {T::kInstruction, true, true, false, 256, 256}},
    {0x55, {T::kInstruction, false, true, false, 7, 7}},
    {0x56, {T::kData, false, true, false, 16, 4}},
    {0x57, {T::kData, true, false, false, 16, 4}},
    {0x59, {T::kData, true, false, false, 16, 16}},
    {0x5A, {T::kData, false, true, false, 32, 4}},
    {0x5B, {T::kData, true, true, false, 64, 64}},
    {0x5C, {T::kData, true, true, false, 128, 128}},
    {0x5D, {T::kData, true, true, false, 256, 256}},
    {0x61, {T::kInstruction, true, false, false, 48, 48}},
    {0x63, {T::kData, false, true, false, 32, 4}},  // and 0x63's 1 GiB array, below
    {0x64, {T::kData, true, false, false, 512, 4}},
    {0x6A, {T::kData, true, false, false, 64, 8}},
    {0x6B, {T::kData, true, false, false, 256, 8}},
    {0x6C, {T::kData, false, true, false, 128, 8}},
    {0x6D, {T::kData, false, false, true, 16, 16}},
    {0x76, {T::kInstruction, false, true, false, 8, 8}},
    {0xA0, {T::kData, true, false, false, 32, 32}},
    {0xB0, {T::kInstruction, true, false, false, 128, 4}},
    {0xB1, {T::kInstruction, false, true, false, 8, 4}},
    {0xB2, {T::kInstruction, true, false, false, 64, 4}},
    {0xB3, {T::kData, true, false, false, 128, 4}},
    {0xB4, {T::kData, true, false, false, 256, 4}},
    {0xB5, {T::kInstruction, true, false, false, 64, 8}},
    {0xB6, {T::kInstruction, true, false, false, 128, 8}},
    {0xBA, {T::kData, true, false, false, 64, 4}},
    {0xC0, {T::kData, true, true, false, 8, 4}},
    {0xC1, {T::kShared, true, true, false, 1024, 8}},
    {0xC2, {T::kData, true, true, false, 16, 4}},
    {0xC3, {T::kShared, true, true, false, 1536, 6}},  // and 0xC3's 1 GiB array, below
    {0xC4, {T::kData, false, true, false, 32, 4}},
    {0xCA, {T::kShared, true, false, false, 512, 4}},
};

// AMD's 4-bit associativity codes (APM Vol. 3, E.4.5, Fn8000_0006 and Fn8000_0019): ways,
// 0 for disabled or reserved, UINT32_MAX for fully associative.
constexpr std::uint32_t kFully = 0xffffffffu;
std::uint32_t amd_l2_ways(std::uint32_t code) {
  static constexpr std::uint32_t kWays[16] = {0,  1, 2,  3,  4,  6,  8,   0,
                                              16, 0, 32, 48, 64, 96, 128, kFully};
  return kWays[code & 0xf];
}
// Fn8000_0005's 8-bit associativity: 0xFF fully associative, 0 reserved, else the ways.
std::uint32_t amd_l1_ways(std::uint32_t code) { return code == 0xff ? kFully : code; }

std::optional<TlbArray> amd_array(std::uint32_t entries, std::uint32_t ways, std::string source) {
  if (entries == 0 || ways == 0) {
    return std::nullopt;
  }
  return TlbArray{entries, ways == kFully ? entries : ways, std::move(source)};
}

// Leaf 4 and Fn8000_001D share a layout: EAX[4:0] type (1 data, 2 instruction, 3 unified),
// EAX[7:5] level, EAX[25:14] sharing - 1; EBX[11:0] line - 1, [21:12] partitions - 1,
// [31:22] ways - 1; ECX sets - 1.
void decode_cache_leaf(const CpuidSource& cpuid, std::uint32_t leaf, CpuInfo& cpu) {
  for (std::uint32_t sub = 0; sub < 16; ++sub) {
    const CpuidRegs r = cpuid.query(leaf, sub);
    const std::uint32_t type = r.eax & 0x1f;
    if (type == 0) {
      break;
    }
    const std::uint32_t level = (r.eax >> 5) & 7;
    CacheLevel c;
    c.ways = (r.ebx >> 22) + 1;
    c.line_bytes = (r.ebx & 0xfff) + 1;
    c.sets = r.ecx + 1;
    c.sharing = ((r.eax >> 14) & 0xfff) + 1;
    const std::uint32_t partitions = ((r.ebx >> 12) & 0x3ff) + 1;
    c.size_bytes = std::uint64_t{c.ways} * partitions * c.line_bytes * c.sets;
    c.source = regs_text(leaf, sub);
    if (level == 1 && type == 1) {
      cpu.l1d_cache = c;
    } else if (level == 2 && type != 2) {
      cpu.l2_cache = c;
    } else if (level == 3 && type != 2) {
      cpu.l3_cache = c;
    } else if (!(level == 1 && type == 2)) {
      cpu.notes.push_back(c.source + ": a level-" + std::to_string(level) +
                          " cache the model does not have");
    }
  }
}

void decode_leaf2(const CpuidSource& cpuid, CpuInfo& cpu) {
  const CpuidRegs r = cpuid.query(2);
  const std::uint32_t regs[4] = {r.eax, r.ebx, r.ecx, r.edx};
  for (int i = 0; i < 4; ++i) {
    if ((regs[i] >> 31) != 0) {
      continue;  // bit 31 set: this register holds no descriptors
    }
    for (int byte = (i == 0 ? 1 : 0); byte < 4; ++byte) {  // AL is the count, not a descriptor
      const auto d = static_cast<std::uint8_t>(regs[i] >> (8 * byte));
      for (const Leaf2Tlb& t : leaf2_tlbs(d)) {
        TlbLevel& level = t.target == T::kInstruction ? cpu.l1i
                          : t.target == T::kData      ? cpu.l1d
                                                      : cpu.l2;
        const TlbArray a{t.entries, t.ways, "CPUID 0x2 descriptor " + hex(d)};
        if (t.k4) {
          level.k4 = a;
          level.shared_2m = t.m2;
        } else if (t.m2) {
          level.m2 = a;
        }
        if (t.g1) {
          level.g1 = a;
        }
      }
    }
  }
}

// Leaf 0x18: EDX[4:0] type (1 data, 2 instruction, 3 unified, 4 load-only, 5 store-only),
// EDX[7:5] level, EDX[8] fully associative; EBX[0..3] 4K, 2M, 4M, 1G pages, EBX[31:16]
// ways; ECX sets. Returns whether it described any TLB.
bool decode_leaf18(const CpuidSource& cpuid, CpuInfo& cpu) {
  if (cpuid.query(0).eax < 0x18) {
    return false;
  }
  CpuInfo found;
  bool any = false;
  const std::uint32_t last = std::min<std::uint32_t>(cpuid.query(0x18).eax, 63);
  for (std::uint32_t sub = 0; sub <= last; ++sub) {
    const CpuidRegs r = cpuid.query(0x18, sub);
    const std::uint32_t type = r.edx & 0x1f;
    if (type == 0) {
      continue;  // an invalid subleaf: there may be valid ones after it
    }
    const std::uint32_t level_no = (r.edx >> 5) & 7;
    const bool fully = ((r.edx >> 8) & 1) != 0;
    const std::uint32_t ways = r.ebx >> 16;
    const std::uint32_t entries = ways * r.ecx;
    const bool k4 = (r.ebx & 1) != 0;
    const bool m2 = (r.ebx & 6) != 0;
    const bool g1 = (r.ebx & 8) != 0;
    const std::string source = regs_text(0x18, sub);
    TlbLevel* level = nullptr;
    if (type == 5) {
      found.notes.push_back(source + ": a store-only TLB of " + std::to_string(entries) +
                            " entries (not modelled: tlb.l1d serves loads and stores)");
    } else if (level_no == 1 && type == 2) {
      level = &found.l1i;
    } else if (level_no == 1) {
      level = &found.l1d;
    } else if (level_no == 2 && type != 2) {
      level = &found.l2;
    } else {
      found.notes.push_back(source + ": a level-" + std::to_string(level_no) +
                            (type == 2 ? " instruction" : "") + " TLB the model does not have");
    }
    if (level == nullptr || entries == 0) {
      continue;
    }
    any = true;
    const TlbArray a{entries, fully ? entries : ways, source};
    if (k4 && level->k4) {
      // A second array that also holds 4K pages (Golden Cove's STLB: 4K+2M in one half, 4K+1G
      // in the other): the model's 4K array gets the entries and ways of both.
      level->k4->entries += a.entries;
      level->k4->ways += a.ways;
      level->k4->source += " + " + source;
      level->shared_2m = level->shared_2m || m2;
      found.notes.push_back(source +
                            ": a second array holding 4K pages; the model's 4K array "
                            "is both together (" +
                            std::to_string(level->k4->entries) + " entries, " +
                            std::to_string(level->k4->ways) + "-way)");
    } else if (k4) {
      level->k4 = a;
      level->shared_2m = m2;
    } else if (m2) {
      level->m2 = a;
    }
    if (g1) {
      level->g1 = a;
      if (k4 || m2) {
        found.notes.push_back(source +
                              ": 1G pages share this array with smaller ones; the "
                              "model gives them an array of the same size");
      }
    }
  }
  if (any) {
    for (auto [to, from] :
         {std::pair{&cpu.l1d, &found.l1d}, {&cpu.l1i, &found.l1i}, {&cpu.l2, &found.l2}}) {
      if (from->any()) {
        *to = *from;
      }
    }
    cpu.notes.insert(cpu.notes.end(), found.notes.begin(), found.notes.end());
  }
  return any;
}

void decode_amd_tlbs(const CpuidSource& cpuid, CpuInfo& cpu) {
  const std::uint32_t max_ext = cpuid.query(0x80000000u).eax;
  // Zen (family 17h on) has one L1 DTLB, one L1 ITLB and one L2 DTLB for 4K and 2M pages
  // alike (AMD's software optimization guides for families 17h and 19h); CPUID reports the
  // entries per page size of that one array.
  const bool zen = cpu.family >= 0x17;
  if (max_ext >= 0x80000005u) {
    const CpuidRegs r = cpuid.query(0x80000005u);
    cpu.l1d.k4 =
        amd_array((r.ebx >> 16) & 0xff, amd_l1_ways(r.ebx >> 24), "CPUID 0x80000005 EBX[31:16]");
    cpu.l1i.k4 =
        amd_array(r.ebx & 0xff, amd_l1_ways((r.ebx >> 8) & 0xff), "CPUID 0x80000005 EBX[15:0]");
    auto d2 =
        amd_array((r.eax >> 16) & 0xff, amd_l1_ways(r.eax >> 24), "CPUID 0x80000005 EAX[31:16]");
    auto i2 =
        amd_array(r.eax & 0xff, amd_l1_ways((r.eax >> 8) & 0xff), "CPUID 0x80000005 EAX[15:0]");
    if (zen && cpu.l1d.k4) {
      cpu.l1d.shared_2m = true;
    } else {
      cpu.l1d.m2 = d2;
    }
    if (zen && cpu.l1i.k4) {
      cpu.l1i.shared_2m = true;
    } else {
      cpu.l1i.m2 = i2;
    }
  }
  if (max_ext >= 0x80000006u) {
    const CpuidRegs r = cpuid.query(0x80000006u);
    cpu.l2.k4 =
        amd_array((r.ebx >> 16) & 0xfff, amd_l2_ways(r.ebx >> 28), "CPUID 0x80000006 EBX[31:16]");
    auto d2 =
        amd_array((r.eax >> 16) & 0xfff, amd_l2_ways(r.eax >> 28), "CPUID 0x80000006 EAX[31:16]");
    if (zen && cpu.l2.k4) {
      cpu.l2.shared_2m = true;
      if (d2) {
        cpu.notes.push_back("CPUID 0x80000006 EAX: the L2 DTLB's 2M pages, " +
                            std::to_string(d2->entries) + " entries " + std::to_string(d2->ways) +
                            "-way (the same array as 4K pages: shared_2m)");
      }
    } else {
      cpu.l2.m2 = d2;
    }
    if ((r.ebx & 0xfff) != 0) {
      cpu.notes.push_back("CPUID 0x80000006 EBX[15:0]: an L2 ITLB of " +
                          std::to_string(r.ebx & 0xfff) +
                          " entries (not modelled: tlb.l2 serves both sides)");
    }
  }
  if (max_ext >= 0x80000019u) {
    const CpuidRegs r = cpuid.query(0x80000019u);
    cpu.l1d.g1 =
        amd_array((r.eax >> 16) & 0xfff, amd_l2_ways(r.eax >> 28), "CPUID 0x80000019 EAX[31:16]");
    cpu.l1i.g1 =
        amd_array(r.eax & 0xfff, amd_l2_ways((r.eax >> 12) & 0xf), "CPUID 0x80000019 EAX[15:0]");
    cpu.l2.g1 =
        amd_array((r.ebx >> 16) & 0xfff, amd_l2_ways(r.ebx >> 28), "CPUID 0x80000019 EBX[31:16]");
    if (zen && cpu.l1d.g1) {
      cpu.notes.push_back(
          "CPUID 0x80000019: Zen's L1 TLBs hold 1G pages in their one array; the model gives "
          "1G pages an array of the size CPUID reports");
    }
  }
}

// AMD without Fn8000_001D: the L1D in Fn8000_0005 ECX ([31:24] KiB, [23:16] ways, [7:0]
// line), the L2 in Fn8000_0006 ECX ([31:16] KiB, [15:12] code, [7:0] line) and the L3 in
// its EDX ([31:18] size in 512 KiB units, [15:12] code).
void decode_amd_legacy_caches(const CpuidSource& cpuid, CpuInfo& cpu) {
  const std::uint32_t max_ext = cpuid.query(0x80000000u).eax;
  auto make = [](std::uint64_t bytes, std::uint32_t ways, std::uint32_t line, std::string src) {
    std::optional<CacheLevel> c;
    if (bytes != 0 && ways != 0 && ways != kFully && line != 0) {
      c = CacheLevel{bytes, ways,
                     line,  static_cast<std::uint32_t>(bytes / (std::uint64_t{ways} * line)),
                     0,     src};
    }
    return c;
  };
  if (max_ext >= 0x80000005u && !cpu.l1d_cache) {
    const std::uint32_t ecx = cpuid.query(0x80000005u).ecx;
    cpu.l1d_cache = make(std::uint64_t{ecx >> 24} * 1024, amd_l1_ways((ecx >> 16) & 0xff),
                         ecx & 0xff, "CPUID 0x80000005 ECX");
  }
  if (max_ext >= 0x80000006u) {
    const CpuidRegs r = cpuid.query(0x80000006u);
    if (!cpu.l2_cache) {
      cpu.l2_cache = make(std::uint64_t{r.ecx >> 16} * 1024, amd_l2_ways(r.ecx >> 12), r.ecx & 0xff,
                          "CPUID 0x80000006 ECX");
    }
    if (!cpu.l3_cache) {
      cpu.l3_cache = make(std::uint64_t{r.edx >> 18} * 512 * 1024, amd_l2_ways(r.edx >> 12),
                          r.edx & 0xff, "CPUID 0x80000006 EDX");
    }
  }
}

}  // namespace

std::vector<Leaf2Tlb> leaf2_tlbs(std::uint8_t descriptor) {
  std::vector<Leaf2Tlb> out;
  for (const Leaf2Row& row : kLeaf2) {
    if (row.descriptor == descriptor) {
      out.push_back(row.tlb);
    }
  }
  if (descriptor == 0x63) {  // "... and a separate array with 1 GByte pages, 4-way, 4 entries"
    out.push_back({T::kData, false, false, true, 4, 4});
  } else if (descriptor == 0xC3) {  // "... Also 1GBbyte pages, 4-way, 16 entries"
    out.push_back({T::kShared, false, false, true, 16, 4});
  }
  return out;
}

CpuInfo decode_cpuid(const CpuidSource& cpuid) {
  CpuInfo cpu;
  const CpuidRegs v = cpuid.query(0);
  char id[13] = {};
  std::memcpy(id, &v.ebx, 4);
  std::memcpy(id + 4, &v.edx, 4);
  std::memcpy(id + 8, &v.ecx, 4);
  cpu.vendor_id = id;
  cpu.vendor = cpu.vendor_id == "GenuineIntel"   ? Vendor::kIntel
               : cpu.vendor_id == "AuthenticAMD" ? Vendor::kAmd
                                                 : Vendor::kOther;
  // Leaf 1 EAX: stepping [3:0], model [7:4], family [11:8], extended model [19:16],
  // extended family [27:20] (SDM Vol. 2A, CPUID, "Processor Version Information").
  const CpuidRegs one = cpuid.query(1);
  const std::uint32_t base_family = (one.eax >> 8) & 0xf;
  cpu.family = base_family == 0xf ? base_family + ((one.eax >> 20) & 0xff) : base_family;
  cpu.model = (one.eax >> 4) & 0xf;
  if (base_family == 0x6 || base_family == 0xf) {
    cpu.model += ((one.eax >> 16) & 0xf) << 4;
  }
  cpu.stepping = one.eax & 0xf;
  cpu.hypervisor = ((one.ecx >> 31) & 1) != 0;
  const std::uint32_t max_ext = cpuid.query(0x80000000u).eax;
  if (max_ext >= 0x80000004u) {
    char brand[49] = {};
    for (std::uint32_t i = 0; i < 3; ++i) {
      const CpuidRegs b = cpuid.query(0x80000002u + i);
      std::memcpy(brand + 16 * i, &b, 16);
    }
    cpu.brand = brand;
    const auto first = cpu.brand.find_first_not_of(' ');
    cpu.brand = first == std::string::npos ? "" : cpu.brand.substr(first);
    while (!cpu.brand.empty() && cpu.brand.back() == ' ') {
      cpu.brand.pop_back();
    }
  }
  const std::uint32_t max_basic = v.eax;
  if (cpu.vendor == Vendor::kAmd) {
    decode_amd_tlbs(cpuid, cpu);
    if (max_ext >= 0x8000001Du) {
      decode_cache_leaf(cpuid, 0x8000001Du, cpu);
    }
    decode_amd_legacy_caches(cpuid, cpu);
  } else {
    if (max_basic >= 2) {
      decode_leaf2(cpuid, cpu);
    }
    decode_leaf18(cpuid, cpu);
    if (max_basic >= 4) {
      decode_cache_leaf(cpuid, 4, cpu);
    }
    if (max_basic >= 0x16) {
      cpu.base_mhz = cpuid.query(0x16).eax & 0xffff;
    }
  }
  return cpu;
}

std::string closest_preset(const CpuInfo& cpu) {
  if (cpu.vendor == Vendor::kAmd) {
    if (cpu.family == 0x19) {
      // Family 19h: Zen 3 at models 00-0Fh (Milan), 20-5Fh (client); Zen 4 at 10-1Fh
      // (Genoa), 60-7Fh (client), A0-AFh (Bergamo, Siena).
      const std::uint32_t m = cpu.model;
      const bool zen4 =
          (m >= 0x10 && m <= 0x1f) || (m >= 0x60 && m <= 0x7f) || (m >= 0xa0 && m <= 0xaf);
      return zen4 ? "zen4" : "zen3";
    }
    return cpu.family > 0x19 ? "zen4" : "zen3";  // Zen 5 -> zen4; Zen 1/2 -> zen3
  }
  if (cpu.vendor == Vendor::kIntel && cpu.family == 6) {
    switch (cpu.model) {
      case 0x6a:  // Ice Lake-SP
      case 0x6c:  // Ice Lake-D
      case 0x7d:  // Ice Lake client
      case 0x7e:
      case 0x8c:  // Tiger Lake (Willow Cove)
      case 0x8d:
        return "icelake-sp";
      case 0x8f:  // Sapphire Rapids
      case 0xcf:  // Emerald Rapids
      case 0x97:  // Alder Lake (Golden Cove P-cores)
      case 0x9a:
      case 0xb7:  // Raptor Lake
      case 0xba:
      case 0xbf:
        return "sapphire-rapids";
      default:
        break;
    }
  }
  return "skylake-sp";
}

namespace {

// Ways for `entries` that the model accepts (a power-of-two set count), the nearest at or
// above `ways`: `ways` itself when it fits; fully associative at worst.
std::uint32_t fitting_ways(std::uint32_t entries, std::uint32_t ways) {
  for (std::uint32_t w = std::max<std::uint32_t>(ways, 1); w < entries; ++w) {
    if (!config::set_associative_error(entries, w)) {
      return w;
    }
  }
  return entries;
}

class Builder {
 public:
  Builder(const Preset& base) : m_base(base) {
    for (const Value& v : base.values) {
      std::string_view why = v.source;
      if (why.rfind("assumed: ", 0) == 0) {
        why.remove_prefix(9);
      }
      m_values.push_back({std::string(v.key), std::string(v.value),
                          "assumed (" + std::string(base.name) + " preset): " + std::string(why)});
    }
  }
  void set(const std::string& key, const std::string& value, const std::string& source) {
    for (Assignment& a : m_values) {
      if (a.key == key) {
        a.value = value;
        a.source = source;
        return;
      }
    }
    m_values.push_back({key, value, source});  // a key the named presets leave alone
  }
  void tlb_level(const std::string& prefix, const TlbLevel& level) {
    if (!level.any()) {
      return;  // nothing reported: the base preset's values stay, marked assumed
    }
    auto array = [&](const std::string& suffix, const std::optional<TlbArray>& a) {
      if (!a) {
        set(prefix + ".entries" + suffix, "0", "CPUID reports no such array at this level");
        set(prefix + ".ways" + suffix, "1", "CPUID reports no such array (unused)");
        return;
      }
      const std::uint32_t ways = fitting_ways(a->entries, a->ways);
      set(prefix + ".entries" + suffix, std::to_string(a->entries), a->source);
      set(prefix + ".ways" + suffix, std::to_string(ways),
          ways == a->ways
              ? a->source + (a->ways == a->entries && a->entries > 1 ? " (fully associative)" : "")
              : a->source + " reports " + std::to_string(a->ways) +
                    "-way: " + std::to_string(a->entries) + " / " + std::to_string(a->ways) +
                    " sets is not a power of two; assumed " + std::to_string(ways) + "-way");
    };
    if (level.k4) {
      array("", level.k4);
    }
    if (level.shared_2m) {
      const std::string src = level.k4->source + ": 2M pages share the 4K array";
      set(prefix + ".shared_2m", "true", src);
      set(prefix + ".entries_2m", "0", src + " (no array of their own)");
      set(prefix + ".ways_2m", "1", src + " (unused)");
    } else {
      set(prefix + ".shared_2m", "false", "CPUID: 2M pages apart from 4K pages");
      array("_2m", level.m2);
    }
    array("_1g", level.g1);
  }
  void cache(const std::string& prefix, const std::optional<CacheLevel>& c) {
    if (!c) {
      return;
    }
    std::uint64_t size = c->size_bytes;
    std::string size_source = c->source + ": " + std::to_string(c->ways) + " ways x " +
                              std::to_string(c->sets) + " sets x " + std::to_string(c->line_bytes) +
                              " bytes";
    if (!std::has_single_bit(c->sets)) {
      const std::uint64_t sets = std::bit_floor(c->sets);
      size = sets * c->ways * c->line_bytes;
      size_source += " = " + std::to_string(c->size_bytes) + " bytes; " + std::to_string(c->sets) +
                     " sets is not the power of two the cache model indexes: assumed " +
                     std::to_string(sets) + " sets";
    }
    set(prefix + ".size", config::format_byte_size(size), size_source);
    set(prefix + ".ways", std::to_string(c->ways), c->source);
  }
  std::vector<Assignment> take() { return std::move(m_values); }

 private:
  const Preset& m_base;
  std::vector<Assignment> m_values;
};

const char* vendor_text(Vendor v) {
  return v == Vendor::kIntel ? "Intel" : v == Vendor::kAmd ? "AMD" : "unknown vendor";
}

}  // namespace

Resolved host_preset(const CpuidSource& cpuid) {
  const CpuInfo cpu = decode_cpuid(cpuid);
  const std::string base_name = closest_preset(cpu);
  const Preset& base = *find_named(base_name);
  Builder b(base);
  if (cpu.vendor != Vendor::kOther) {
    b.tlb_level("tlb.l1d", cpu.l1d);
    b.tlb_level("tlb.l1i", cpu.l1i);
    b.tlb_level("tlb.l2", cpu.l2);
    b.cache("cache.l1", cpu.l1d_cache);
    b.cache("cache.l2", cpu.l2_cache);
    b.cache("cache.llc", cpu.l3_cache);
    if (cpu.l1d_cache) {
      b.set("cache.line_bytes", std::to_string(cpu.l1d_cache->line_bytes),
            cpu.l1d_cache->source + ": line size");
    }
    if (cpu.base_mhz != 0) {
      char ghz[32];
      std::snprintf(ghz, sizeof ghz, "%.3g", cpu.base_mhz / 1000.0);
      b.set("core.frequency_ghz", ghz,
            "CPUID 0x16 EAX: base frequency " + std::to_string(cpu.base_mhz) + " MHz");
    }
  }
  Resolved r;
  r.name = "host";
  r.values = b.take();

  std::ostringstream os;
  char ident[96];
  std::snprintf(ident, sizeof ident, "%s family 0x%x model 0x%x stepping %u", cpu.vendor_id.c_str(),
                cpu.family, cpu.model, cpu.stepping);
  os << "--preset host: " << (cpu.brand.empty() ? "(no brand string)" : cpu.brand) << " (" << ident
     << "), from " << cpuid.describe() << "\n";
  if (cpu.hypervisor) {
    os << "  under a hypervisor (CPUID.1:ECX[31]): it may filter or change what CPUID "
          "reports, and measured latencies include its memory virtualisation\n";
  }
  if (cpu.vendor == Vendor::kOther) {
    os << "  not an Intel or AMD processor: every value below is assumed\n";
  }
  os << "  what CPUID does not tell comes from the closest named preset, " << base_name << " ("
     << vendor_text(cpu.vendor) << ")\n";
  std::size_t width = 0;
  for (const Assignment& a : r.values) {
    width = std::max(width, a.key.size() + 3 + a.value.size());
  }
  for (const bool read : {true, false}) {
    for (const Assignment& a : r.values) {
      if ((a.source.rfind("CPUID", 0) == 0) != read) {
        continue;
      }
      const std::string kv = a.key + " = " + a.value;
      os << (read ? "  read     " : "  assumed  ") << kv << std::string(width - kv.size() + 2, ' ')
         << a.source << "\n";
    }
  }
  for (const std::string& n : cpu.notes) {
    os << "  not used " << n << "\n";
  }
  r.report = os.str();
  return r;
}

}  // namespace pagesim::preset
