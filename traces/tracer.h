// The tracers `pagesim trace record` runs a program under, and how it reads what they write.
//
//   qemu    qemu-user (qemu-x86_64) with pagesim's TCG plugin (traces/qemu_plugin/): the plugin
//           writes a raw stream of 8-byte words to a pipe (qemu_stream_reader.h). Fast (JIT,
//           one helper call per access); does not follow exec.
//   lackey  valgrind --tool=lackey --trace-mem=yes: text lines to a pipe (lackey_reader.h).
//           Slower; runs what valgrind runs (scripts: it loads the interpreter named by #!).
//
// Both report a read-modify-write instruction as a load then a store of the same bytes
// (docs/trace-format.md, "Recording programs").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "traces/file_io.h"
#include "traces/trace_reader.h"

namespace pagesim::traces {

enum class Tracer { kQemu, kLackey };

// "qemu", "lackey".
std::string_view tracer_name(Tracer tracer);
std::optional<Tracer> parse_tracer(std::string_view name);

struct TracerOptions {
  bool fetches = false;  // also record instruction fetches (X), one per instruction executed
  bool markers = false;  // qemu: the program's marker instructions become !roi begin / end
};

// Why `tracer` cannot run on this machine ("qemu-x86_64 is not installed (Debian package
// qemu-user)", "the qemu plugin ... is missing"), or "" when it can.
std::string tracer_unavailable(Tracer tracer);

// qemu where it can run, else lackey.
Tracer default_tracer();

// The command line running `command` (argv[0] resolved already) under `tracer`, which writes
// its stream to descriptor `fd` (inherited).
std::vector<std::string> tracer_argv(Tracer tracer, const TracerOptions& options, int fd,
                                     const std::vector<std::string>& command);

// A reader of the stream `tracer` writes into `pipe`.
std::unique_ptr<TraceReader> tracer_reader(Tracer tracer, const TracerOptions& options,
                                           InputFile pipe);

}  // namespace pagesim::traces
