// `pagesim trace record [--tracer qemu|lackey] [--fetches] [--out FILE] -- COMMAND...`: runs
// COMMAND under a tracer (tracer.h) and writes the accesses it makes as a trace, converting
// on the fly from the tracer's pipe: the tracer's own output never lands on disk.
//
// The command's standard input, output and error are the terminal's, untouched; pagesim's
// own lines (progress, the summary, errors) go to standard error.
#pragma once

#include <string>
#include <vector>

namespace pagesim::traces {

// The exit status of `pagesim trace record` when COMMAND ran but failed (exited non-zero or
// was killed by a signal): the trace of what it did is still written.
inline constexpr int kRecordCommandFailed = 3;

// args: what follows "pagesim trace record". Usage errors throw UsageError or boost's
// program_options errors, other failures std::exception, which `pagesim trace` reports
// ("pagesim trace record: ...") with exit status 2 and 1. Returns 0 when the command succeeded and
// the trace was written, kRecordCommandFailed when the command failed (trace written), 1 when the
// command or tracer could not run or the trace could not be written (no file left).
int run_record_command(const std::vector<std::string>& args);

}  // namespace pagesim::traces
