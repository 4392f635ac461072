#include <cstdio>
#include <iostream>

#include "validate/machine.h"

using namespace pagesim::validate;

int main(int argc, char** argv) {
  try {
    const Scenario* s = find_preset(argc > 1 ? argv[1] : "seq-read");
    PerfCounters perf(default_tracepoints());
    for (const PhaseCounts& p : run_scenario(*s, perf)) {
      std::printf("== %s\n", p.info.name.c_str());
      for (const auto& [k, v] : p.measured) {
        const auto b = p.baseline.count(k) ? p.baseline.at(k) : 0;
        if (v != 0 || b != 0)
          std::printf("  %-45s %10lld %10lld\n", k.c_str(), (long long)v, (long long)b);
      }
    }
  } catch (const KvmUnavailable& e) {
    std::cerr << "missing: " << e.what << "\n";
    return 77;
  } catch (const PerfUnavailable& e) {
    std::cerr << "missing: " << e.what << "\n";
    return 77;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
