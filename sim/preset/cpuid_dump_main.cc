// pagesim-cpuid-dump [--decode [FILE]]: prints the CPUID leaves `pagesim --preset host`
// reads, in the format of sim/preset/testdata/*.cpuid (a file for tests, or for a bug report
// from a machine whose decoding looks wrong); --decode prints what --preset host makes of
// this processor's, or of the dump FILE's.
#include <cstring>
#include <ctime>
#include <iostream>

#include "sim/preset/cpuid.h"
#include "sim/preset/host_preset.h"

int main(int argc, char** argv) {
  using namespace pagesim::preset;
  const bool decode = argc >= 2 && std::strcmp(argv[1], "--decode") == 0;
  if (argc > 3 || (argc >= 2 && !decode)) {
    std::cerr << "usage: pagesim-cpuid-dump [--decode [FILE]]\n"
                 "  prints the CPUID leaves --preset host reads (leaves 0, 1, 2, 4, 0x16, 0x18,\n"
                 "  0x80000000-8, 0x80000019, 0x8000001D) as `LEAF SUBLEAF: EAX EBX ECX EDX`;\n"
                 "  --decode: what --preset host makes of them (or of the dump FILE)\n";
    return 2;
  }
  const HostCpuid cpuid;
  if (decode) {
    try {
      std::cout << (argc == 3 ? host_preset(CpuidDump::load(argv[2])) : host_preset(cpuid)).report;
    } catch (const std::exception& e) {
      std::cerr << "pagesim-cpuid-dump: " << e.what() << "\n";
      return 1;
    }
    return 0;
  }
  const CpuInfo cpu = decode_cpuid(cpuid);
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  std::string header = "CPUID of " + (cpu.brand.empty() ? cpu.vendor_id : cpu.brand) +
                       ", written by pagesim-cpuid-dump on " + date + ".";
  if (cpu.hypervisor) {
    header +=
        "\nThis processor runs under a hypervisor (CPUID.1:ECX[31]): the values are what the "
        "hypervisor reports, which may filter or change the hardware's.";
  }
  std::cout << format_dump(cpuid, header);
  return 0;
}
