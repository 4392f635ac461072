// libFuzzer target: the input is a file read by one trace source (PAGESIM_FUZZ_SOURCE:
// "text", "binary", "csv", "champsim", ...) through open_trace, to the end. A TraceError is
// the expected outcome for damaged input; anything else (a crash, a sanitizer report, a hang,
// an exception of another type, a record breaking record.h's invariants) is a bug.
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "traces/trace_reader.h"

namespace {

// The input lives in a memfd, opened by path as a user's file would be.
int input_fd() {
  static const int fd = ::memfd_create("pagesim-fuzz", 0);
  if (fd < 0) {
    std::abort();
  }
  return fd;
}

void check(const pagesim::traces::Record& r) {
  if (r.is_event() ? pagesim::traces::check_event(r) != nullptr
                   : r.size == 0 || static_cast<unsigned>(r.kind) > 2) {
    std::abort();  // a reader let through a record the simulator must never see
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = input_fd();
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) {
    std::abort();
  }
  static const std::string spec =
      std::string(PAGESIM_FUZZ_SOURCE) + ":/proc/self/fd/" + std::to_string(fd);
  // Batches of 5 and of 4096 records in turn: small ones so records that span two reads (a
  // ChampSim instruction's seven, a CSV row's !cr3 and access) are exercised, large ones so
  // a small input that decompresses to millions of records (zstd, xz and gzip all allow
  // that) is read at full speed.
  static std::array<pagesim::traces::Record, 4096> batch;
  try {
    auto reader = pagesim::traces::open_trace(spec);
    for (std::size_t reads = 0;; ++reads) {
      const std::size_t n = reader->read(std::span(batch).first(reads % 2 == 0 ? 5 : batch.size()));
      if (n == 0) {
        break;
      }
      for (std::size_t i = 0; i < n; ++i) {
        check(batch[i]);
      }
    }
  } catch (const pagesim::traces::TraceError&) {
    // Damaged input, reported by name and place: what the reader should do.
  }
  return 0;
}
