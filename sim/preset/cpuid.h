// CPUID, read from this processor or from a dump: what `--preset host` decodes
// (host_preset.h). Plain C++, no configuration involved.
//
// Dump format (sim/preset/testdata/*.cpuid; `pagesim-cpuid-dump` writes it): one leaf a
// line, `LEAF SUBLEAF: EAX EBX ECX EDX`, all hexadecimal; `#` starts a comment. A leaf not
// listed reads as zeros, as a leaf above the processor's maximum does.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace pagesim::preset {

struct CpuidRegs {
  std::uint32_t eax = 0;
  std::uint32_t ebx = 0;
  std::uint32_t ecx = 0;
  std::uint32_t edx = 0;
  bool operator==(const CpuidRegs&) const = default;
};

class CpuidSource {
 public:
  virtual ~CpuidSource() = default;
  // The registers of (leaf, subleaf); zeros for a leaf past the basic or extended maximum.
  virtual CpuidRegs query(std::uint32_t leaf, std::uint32_t subleaf = 0) const = 0;
  // "this processor (cpuid instruction)" or the dump's file name.
  virtual std::string describe() const = 0;
};

// The cpuid instruction of the processor this runs on (GCC's <cpuid.h>). Under a
// hypervisor, what the hypervisor chooses to report.
class HostCpuid final : public CpuidSource {
 public:
  CpuidRegs query(std::uint32_t leaf, std::uint32_t subleaf = 0) const override;
  std::string describe() const override { return "this processor (cpuid instruction)"; }
};

class CpuidDump final : public CpuidSource {
 public:
  // Throws std::runtime_error naming `name` and the line on a malformed line.
  static CpuidDump parse(std::string_view text, std::string name);
  static CpuidDump load(const std::string& path);

  void set(std::uint32_t leaf, std::uint32_t subleaf, CpuidRegs regs);
  CpuidRegs query(std::uint32_t leaf, std::uint32_t subleaf = 0) const override;
  std::string describe() const override { return m_name; }

 private:
  std::string m_name;
  std::map<std::pair<std::uint32_t, std::uint32_t>, CpuidRegs> m_leaves;
};

// The leaves --preset host reads (0, 1, 2, 4 and its subleaves, 0x16, 0x18 and its
// subleaves, 0x80000000-0x80000008, 0x80000019, 0x8000001D and its subleaves), in the dump
// format, after `header` (each of its lines commented).
std::string format_dump(const CpuidSource& cpuid, std::string_view header);

}  // namespace pagesim::preset
