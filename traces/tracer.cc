#include "traces/tracer.h"

#include <sys/stat.h>

#include <cstdlib>

#include "traces/child_process.h"
#include "traces/lackey_reader.h"
#include "traces/qemu_stream_reader.h"

// Where the build put the plugin (traces/qemu_plugin/CMakeLists.txt); the environment
// variable PAGESIM_QEMU_PLUGIN overrides it (an installed or moved pagesim).
#ifndef PAGESIM_QEMU_PLUGIN_PATH
#define PAGESIM_QEMU_PLUGIN_PATH "libpagesim_qemu.so"
#endif

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

std::string qemu_plugin_path() {
  const char* env = std::getenv("PAGESIM_QEMU_PLUGIN");
  return env != nullptr && *env != '\0' ? env : PAGESIM_QEMU_PLUGIN_PATH;
}

}  // namespace

std::string tracer_unavailable(Tracer tracer) {
  if (tracer == Tracer::kLackey) {
    return in_path("valgrind") ? "" : "valgrind is not installed (Debian package valgrind)";
  }
  if (!in_path("qemu-x86_64")) {
    return "qemu-x86_64 is not installed (Debian package qemu-user)";
  }
  struct stat st {};
  const std::string plugin = qemu_plugin_path();
  if (::stat(plugin.c_str(), &st) != 0) {
    return "its plugin " + plugin + " is missing (build the target pagesim_qemu, or set " +
           "PAGESIM_QEMU_PLUGIN)";
  }
  return "";
}

Tracer default_tracer() {
  return tracer_unavailable(Tracer::kQemu).empty() ? Tracer::kQemu : Tracer::kLackey;
}

std::vector<std::string> tracer_argv(Tracer tracer, const TracerOptions& options, int fd,
                                     const std::vector<std::string>& command) {
  std::vector<std::string> argv;
  if (tracer == Tracer::kQemu) {
    argv = {"qemu-x86_64", "-plugin",
            qemu_plugin_path() + ",fd=" + std::to_string(fd) +
                (options.fetches ? ",fetches=on" : ",fetches=off") +
                (options.markers ? ",markers=on" : "")};
  } else {
    // --basic-counts=no: lackey's instruction and jump counts cost time and print only a
    // summary; fetches are filtered by the reader (lackey has no switch for the I lines).
    // --child-silent-after-fork: a forked child's lines would mix into the parent's (qemu's
    // plugin records the first process only, too).
    argv = {"valgrind",
            "--tool=lackey",
            "--trace-mem=yes",
            "--basic-counts=no",
            "--child-silent-after-fork=yes",
            "--log-fd=" + std::to_string(fd)};
  }
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::unique_ptr<TraceReader> tracer_reader(Tracer tracer, const TracerOptions& options,
                                           InputFile pipe) {
  if (tracer == Tracer::kQemu) {
    return std::make_unique<QemuStreamReader>(std::move(pipe));
  }
  return std::make_unique<LackeyTraceReader>(std::move(pipe),
                                             LackeyOptions{.fetches = options.fetches});
}

}  // namespace pagesim::traces
