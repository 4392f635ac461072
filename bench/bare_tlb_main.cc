// pagesim_bare_tlb: times the bare two-level LRU TLB (bare_tlb.h) over a trace's addresses,
// the reference `make bench` divides pagesim's throughput by (scripts/bench.sh, issue 21).
//
//   pagesim_bare_tlb TRACE [--config FILE] [--set KEY=VALUE]... [--repeat N]
//
// The geometry is the configuration's, resolved as `pagesim replay` resolves it (defaults,
// then --config, then --set): tlb.l1d.entries/ways and tlb.l2.entries/ways. The trace is
// decoded into memory first (every record; loads only: a store or a fetch would take other
// paths in pagesim, an event has no meaning here), then the loop is timed alone, N times on
// a fresh TLB (default 5), and the median printed with the miss counts, one `key value` a
// line:
//   accesses 10000000
//   seconds 0.0123           (median of the N loops)
//   accesses_per_second 8.1e+08
//   l1d_misses 156250        (equal to pagesim's native tlb.l1d.misses on the same trace)
//   l2_misses 156250         (and tlb.l2.misses)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "bench/bare_tlb.h"
#include "sim/sim_params.h"
#include "traces/trace_reader.h"

namespace {

int usage(const std::string& why) {
  std::cerr << "pagesim_bare_tlb: " << why
            << "\nusage: pagesim_bare_tlb TRACE [--config FILE] [--set KEY=VALUE]... "
               "[--repeat N]\n";
  return 2;
}

std::vector<std::uint64_t> decode_loads(const std::string& path) {
  auto reader = pagesim::traces::open_trace(path);
  std::vector<pagesim::traces::Record> batch(4096);
  std::vector<std::uint64_t> gvas;
  if (auto n = reader->record_count()) {
    gvas.reserve(*n);
  }
  for (std::size_t n; (n = reader->read(batch)) != 0;) {
    for (std::size_t i = 0; i < n; ++i) {
      const pagesim::traces::Record& r = batch[i];
      if (r.is_event() || r.kind != pagesim::AccessKind::kRead) {
        throw std::runtime_error(path + ": record " + std::to_string(gvas.size() + i + 1) +
                                 " is not a load; the bare loop replays loads only");
      }
      if ((r.address >> 12) != ((r.address + r.size - 1) >> 12)) {
        throw std::runtime_error(path + ": record " + std::to_string(gvas.size() + i + 1) +
                                 " crosses a page; the bare loop translates one page a load");
      }
      gvas.push_back(r.address);
    }
  }
  return gvas;
}

}  // namespace

int main(int argc, char** argv) {
  std::string trace;
  int repeat = 5;
  pagesim::Configuration config;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if ((a == "--set" || a == "--config" || a == "--repeat") && i + 1 >= argc) {
        return usage(a + " needs a value");
      }
      if (a == "--set") {
        config.set(argv[++i]);
      } else if (a == "--config") {
        config.load_file(argv[++i]);
      } else if (a == "--repeat") {
        repeat = std::atoi(argv[++i]);
        if (repeat < 1) {
          return usage("--repeat takes a positive count");
        }
      } else if (!a.empty() && a[0] == '-') {
        return usage("unknown option " + a);
      } else if (trace.empty()) {
        trace = a;
      } else {
        return usage("one trace only");
      }
    }
    if (trace.empty()) {
      return usage("no trace given");
    }
    config.validate();
    const pagesim::SimParams& p = config.params();
    if (p.mode != pagesim::Mode::kNative || p.os.thp != pagesim::os::Thp::kNever ||
        p.tlb.l1d.replacement != pagesim::tlb::Replacement::kLru ||
        p.tlb.l2.replacement != pagesim::tlb::Replacement::kLru) {
      return usage("the bare loop models native mode, 4 KiB pages (os.thp=never) and LRU TLBs");
    }
    const std::vector<std::uint64_t> gvas = decode_loads(trace);

    std::vector<double> seconds;
    std::uint64_t l1_misses = 0;
    std::uint64_t l2_misses = 0;
    for (int r = 0; r < repeat; ++r) {
      pagesim::bench::BareTlb tlb(p.tlb.l1d.small, p.tlb.l2.small);
      const auto start = std::chrono::steady_clock::now();
      for (std::uint64_t gva : gvas) {
        tlb.load(gva);
      }
      const auto stop = std::chrono::steady_clock::now();
      seconds.push_back(std::chrono::duration<double>(stop - start).count());
      l1_misses = tlb.l1_misses();
      l2_misses = tlb.l2_misses();
    }
    std::sort(seconds.begin(), seconds.end());
    const double median = seconds[seconds.size() / 2];
    std::cout << "accesses " << gvas.size() << "\nseconds " << median << "\naccesses_per_second "
              << (median > 0 ? double(gvas.size()) / median : 0.0) << "\nl1d_misses " << l1_misses
              << "\nl2_misses " << l2_misses << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "pagesim_bare_tlb: " << e.what() << "\n";
    return 1;
  }
}
