#include "traces/tracer.h"

#include "traces/child_process.h"
#include "traces/lackey_reader.h"

namespace pagesim::traces {

std::string_view tracer_name(Tracer tracer) { return tracer == Tracer::kQemu ? "qemu" : "lackey"; }

std::optional<Tracer> parse_tracer(std::string_view name) {
  if (name == "qemu") {
    return Tracer::kQemu;
  }
  if (name == "lackey") {
    return Tracer::kLackey;
  }
  return std::nullopt;
}

namespace {

bool in_path(const std::string& name) {
  try {
    resolve_executable(name);
    return true;
  } catch (const TraceError&) {
    return false;
  }
}

}  // namespace

std::string tracer_unavailable(Tracer tracer) {
  if (tracer == Tracer::kLackey) {
    return in_path("valgrind") ? "" : "valgrind is not installed (Debian package valgrind)";
  }
  return "the qemu tracer is not built yet";
}

Tracer default_tracer() {
  return tracer_unavailable(Tracer::kQemu).empty() ? Tracer::kQemu : Tracer::kLackey;
}

std::vector<std::string> tracer_argv(Tracer tracer, const TracerOptions& options, int fd,
                                     const std::vector<std::string>& command) {
  (void)options;
  std::vector<std::string> argv;
  if (tracer == Tracer::kLackey) {
    // --basic-counts=no: lackey's instruction and jump counts cost time and print only a
    // summary; fetches are filtered by the reader (lackey has no switch for the I lines).
    argv = {"valgrind", "--tool=lackey", "--trace-mem=yes", "--basic-counts=no",
            "--log-fd=" + std::to_string(fd)};
  }
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::unique_ptr<TraceReader> tracer_reader(Tracer tracer, const TracerOptions& options,
                                           InputFile pipe) {
  (void)tracer;
  return std::make_unique<LackeyTraceReader>(std::move(pipe),
                                             LackeyOptions{.fetches = options.fetches});
}

}  // namespace pagesim::traces
