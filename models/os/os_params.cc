#include "models/os/os_params.h"

namespace pagesim::os {

void OsParams::describe(config::Schema& s) {
  s.field("thp", thp, "page size mapped on first touch: never (4 KiB), 2m, 1g");
  s.field("memory", memory, "physical memory of the machine").check([this]() {
    std::optional<std::string> err;
    if (memory.bytes < 4 * kMiB || memory.bytes % (2 * kMiB) != 0) {
      err = "must be a multiple of 2 MiB and at least 4 MiB";
    }
    return err;
  });
  s.field("page_fault_latency", page_fault_latency,
          "cycles of a first-touch page fault (entry, handler, zeroing 4 KiB, return)")
      .note("about 1 us, the usual order of a minor anonymous fault on Linux, at 2.6 GHz");
}

}  // namespace pagesim::os
