#include "sim/preset/cpuid.h"

#include <cpuid.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace pagesim::preset {

CpuidRegs HostCpuid::query(std::uint32_t leaf, std::uint32_t subleaf) const {
  // __get_cpuid_max(base) gives the highest leaf of the basic (0) or extended (0x80000000)
  // range; past it Intel returns the highest basic leaf's data, so those read as zeros here.
  const std::uint32_t base = leaf & 0x80000000u;
  if (leaf > __get_cpuid_max(base, nullptr)) {
    return {};
  }
  CpuidRegs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

CpuidDump CpuidDump::parse(std::string_view text, std::string name) {
  CpuidDump d;
  d.m_name = std::move(name);
  std::istringstream in{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (const auto hash = line.find('#'); hash != std::string::npos) {
      line.erase(hash);
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      continue;
    }
    unsigned leaf = 0;
    unsigned subleaf = 0;
    CpuidRegs r;
    char colon = 0;
    std::istringstream fields(line);
    fields >> std::hex >> leaf >> subleaf >> colon >> r.eax >> r.ebx >> r.ecx >> r.edx;
    std::string rest;
    if (!fields || colon != ':' || (fields >> rest)) {
      throw std::runtime_error(d.m_name + ":" + std::to_string(number) +
                               ": expected 'LEAF SUBLEAF: EAX EBX ECX EDX' in hexadecimal");
    }
    d.set(leaf, subleaf, r);
  }
  return d;
}

CpuidDump CpuidDump::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error(path + ": cannot open CPUID dump");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

void CpuidDump::set(std::uint32_t leaf, std::uint32_t subleaf, CpuidRegs regs) {
  m_leaves[{leaf, subleaf}] = regs;
}

CpuidRegs CpuidDump::query(std::uint32_t leaf, std::uint32_t subleaf) const {
  const auto it = m_leaves.find({leaf, subleaf});
  return it == m_leaves.end() ? CpuidRegs{} : it->second;
}

std::string format_dump(const CpuidSource& cpuid, std::string_view header) {
  std::ostringstream os;
  std::istringstream lines{std::string(header)};
  for (std::string line; std::getline(lines, line);) {
    os << "#" << (line.empty() ? "" : " ") << line << "\n";
  }
  os << "# LEAF SUBLEAF: EAX EBX ECX EDX (hexadecimal)\n";
  auto put = [&os](std::uint32_t leaf, std::uint32_t subleaf, const CpuidRegs& r) {
    char buf[80];
    std::snprintf(buf, sizeof buf, "%08x %x: %08x %08x %08x %08x\n", leaf, subleaf, r.eax, r.ebx,
                  r.ecx, r.edx);
    os << buf;
  };
  const std::uint32_t max_basic = cpuid.query(0).eax;
  for (std::uint32_t leaf : {0u, 1u, 2u, 0x16u}) {
    if (leaf <= max_basic) {
      put(leaf, 0, cpuid.query(leaf));
    }
  }
  // Leaf 4: subleaves until the cache type (EAX[4:0]) is 0 (the null one is kept).
  if (max_basic >= 4) {
    for (std::uint32_t sub = 0; sub < 16; ++sub) {
      const CpuidRegs r = cpuid.query(4, sub);
      put(4, sub, r);
      if ((r.eax & 0x1f) == 0) {
        break;
      }
    }
  }
  // Leaf 0x18: subleaf 0's EAX is the highest subleaf.
  if (max_basic >= 0x18) {
    const std::uint32_t last = cpuid.query(0x18).eax;
    for (std::uint32_t sub = 0; sub <= last && sub < 64; ++sub) {
      put(0x18, sub, cpuid.query(0x18, sub));
    }
  }
  const std::uint32_t max_ext = cpuid.query(0x80000000u).eax;
  for (std::uint32_t leaf = 0x80000000u; leaf <= max_ext && leaf <= 0x80000008u; ++leaf) {
    put(leaf, 0, cpuid.query(leaf));
  }
  if (max_ext >= 0x80000019u) {
    put(0x80000019u, 0, cpuid.query(0x80000019u));
  }
  if (max_ext >= 0x8000001Du) {
    for (std::uint32_t sub = 0; sub < 16; ++sub) {
      const CpuidRegs r = cpuid.query(0x8000001Du, sub);
      put(0x8000001Du, sub, r);
      if ((r.eax & 0x1f) == 0) {
        break;
      }
    }
  }
  return os.str();
}

}  // namespace pagesim::preset
