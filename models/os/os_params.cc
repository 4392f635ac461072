#include "models/os/os_params.h"

#include <optional>
#include <string>

namespace pagesim::os {

void OsParams::describe(config::Schema& s) {
  s.field("thp", thp, "page size mapped on first touch: never (4 KiB), 2m, 1g");
  s.field("memory", memory, "physical memory of the machine")
      .limit("a multiple of 2 MiB, at least 4MiB")
      .check([this]() {
        std::optional<std::string> err;
        if (memory.bytes < 4 * kMiB || memory.bytes % (2 * kMiB) != 0) {
          err = "must be a multiple of 2 MiB and at least 4 MiB";
        }
        return err;
      })
      .at_most(static_cast<double>(kMaxMemoryBytes), "64TiB",
               "the simulated physical memory is one reservation of the simulator's own "
               "address space, and an x86-64 Linux process has 128 TiB of it");
  const std::string page_fault_key = s.key("page_fault_latency");
  s.field("page_fault_latency", page_fault_latency,
          "cycles of a first-touch page fault (entry, handler, zeroing 4 KiB, return)")
      .note("about 1 us, the usual order of a minor anonymous fault on Linux, at 2.6 GHz");
  s.field("clear_page_latency", clear_page_latency,
          "cycles of zeroing one 4 KiB page, part of page_fault_latency; a 2 MiB or 1 GiB "
          "fault adds it once per further 4 KiB")
      .note("4 KiB at ~10 GB/s (one core's store bandwidth to DRAM), ~400 ns at 2.6 GHz")
      .check([this, page_fault_key]() {
        std::optional<std::string> err;
        if (clear_page_latency > page_fault_latency) {
          err = "must not exceed " + page_fault_key + " (" +
                std::to_string(page_fault_latency.count()) + ")";
        }
        return err;
      });
}

}  // namespace pagesim::os
