#include "traces/record_command.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <utility>

#include "traces/binary_format.h"
#include "traces/byte_size.h"
#include "traces/child_process.h"
#include "traces/command_line.h"
#include "traces/lackey_reader.h"
#include "traces/progress_line.h"
#include "traces/qemu_stream_reader.h"
#include "traces/trace_reader.h"
#include "traces/trace_writer.h"
#include "traces/tracer.h"

namespace pagesim::traces {

namespace {

namespace po = boost::program_options;

constexpr std::size_t kBatchRecords = 4096;
constexpr int kRecordZstdLevel = 1;
constexpr int kRecordZstdWorkers = 1;
// The descriptor the tracer writes its stream to, in the child. Not 0-2 (the command's own).
constexpr int kChildTraceFd = 3;
// The pipe's ends live at or above this in pagesim, so neither is kChildTraceFd (dup2 of a
// descriptor onto itself would keep close-on-exec, and the child would lose it).
constexpr int kFirstPipeFd = 10;

const char* const kHelp =
    "usage: pagesim trace record [--tracer qemu|lackey] [--fetches] [--out FILE]\n"
    "                            [--progress WHEN] [--start-after N | --start-at-marker]\n"
    "                            [--roi-markers] [--strict] -- COMMAND [ARG...]\n"
    "\n"
    "Runs COMMAND under a tracer and writes every load and store it makes (and, with\n"
    "--fetches, every instruction fetch) as a trace, converting the tracer's output on the\n"
    "fly. COMMAND's own input and output pass through untouched; pagesim's lines go to\n"
    "standard error.\n"
    "\n"
    "Tracers:\n"
    "  qemu    qemu-x86_64 (qemu-user) with pagesim's TCG plugin: fast. The default where\n"
    "          it is installed. It records the process it starts (all its threads) and\n"
    "          follows neither fork nor exec: the trace ends where COMMAND execs another\n"
    "          program, and a script (#!) must be recorded by naming its interpreter\n"
    "          (-- /usr/bin/python3 script.py) or with --tracer lackey. The processes left\n"
    "          out (forked children, exec'd programs) are counted and reported at the end;\n"
    "          --strict makes any an error.\n"
    "  lackey  valgrind --tool=lackey --trace-mem=yes: much slower than qemu; runs\n"
    "          scripts (valgrind loads the interpreter); records the process it starts,\n"
    "          follows neither fork nor exec, and cannot count what it left out (--strict\n"
    "          is refused with it). Following children would mix their lines into one\n"
    "          stream with nothing to tell the processes apart.\n"
    "Both report a read-modify-write instruction as a load then a store (docs/trace-format.md).\n"
    "\n"
    "Exit status: 0 COMMAND succeeded and the trace is written; 3 COMMAND exited non-zero or\n"
    "was killed (the trace of what it did is written, the status is reported); 1 COMMAND or\n"
    "the tracer could not run, the trace could not be written, or with --strict COMMAND\n"
    "started processes that were not recorded (no file is left); 2 a usage error.\n"
    "\n"
    "options";

// A pipe whose ends are close-on-exec and at or above kFirstPipeFd; [0] read, [1] write.
struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() {
    int raw[2];
    if (::pipe2(raw, O_CLOEXEC) != 0) {
      throw TraceError(std::string("cannot create a pipe: ") + std::strerror(errno));
    }
    for (int i = 0; i < 2; ++i) {
      fds[i] = ::fcntl(raw[i], F_DUPFD_CLOEXEC, kFirstPipeFd);
      ::close(raw[i]);
    }
    if (fds[0] < 0 || fds[1] < 0) {
      close_all();
      throw TraceError(std::string("cannot create a pipe: ") + std::strerror(errno));
    }
    // Big pipe buffers let the tracer run ahead of the encoder (best effort).
    ::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe() { close_all(); }
  int release_read() { return std::exchange(fds[0], -1); }
  void close_write() {
    if (fds[1] >= 0) {
      ::close(std::exchange(fds[1], -1));
    }
  }
  void close_all() {
    for (int& fd : fds) {
      if (fd >= 0) {
        ::close(std::exchange(fd, -1));
      }
    }
  }
};

std::string quote_command(const std::vector<std::string>& command) {
  std::string out;
  for (const std::string& word : command) {
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}

int record(const std::vector<std::string>& args) {
  // Everything after the first "--" is the command.
  std::vector<std::string> options_part = args;
  std::vector<std::string> command;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      options_part.assign(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(i));
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
  }
  po::options_description visible(kHelp);
  visible.add_options()              //
      ("help,h", "print this help")  //
      ("tracer", po::value<std::string>()->value_name("T"),
       "qemu or lackey (default: qemu where qemu-x86_64 is installed, else lackey)")    //
      ("fetches", "also record instruction fetches (X), one per instruction executed")  //
      ("out,o", po::value<std::string>()->value_name("FILE")->default_value("trace.pgt"),
       "output trace: .pgt binary, .trace/.txt text")  //
      ("progress", po::value<std::string>()->value_name("WHEN")->default_value("auto"),
       ProgressLine::help())  //
      ("start-after", po::value<std::string>()->value_name("N"),
       "record from the access after the first N (the program's start-up left out; the "
       "tracer still runs it from the start)")  //
      ("strict",
       "an error (exit 1, no file) when COMMAND started processes that were not recorded "
       "(qemu only)")  //
      ("roi-markers",
       "the program's marker instruction (xchg %bx,%bx: 66 87 db) becomes !roi begin, the "
       "next !roi end, and so on: the replay counts only the marked regions (qemu only)")  //
      ("start-at-marker",
       "--roi-markers, and nothing before the first marker is recorded (qemu only)");
  po::variables_map vm;
  po::store(po::command_line_parser(options_part).options(visible).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << visible << "\n";
    return 0;
  }
  if (command.empty()) {
    throw UsageError("missing '-- COMMAND [ARG...]': the program to record");
  }
  const std::string progress_mode = vm["progress"].as<std::string>();
  if (progress_mode != "auto" && progress_mode != "always" && progress_mode != "never") {
    throw UsageError("--progress: '" + progress_mode + "' is not auto, always or never");
  }
  Tracer tracer = default_tracer();
  if (vm.count("tracer")) {
    const std::string name = vm["tracer"].as<std::string>();
    const std::optional<Tracer> parsed = parse_tracer(name);
    if (!parsed) {
      throw UsageError("--tracer: '" + name + "' is not a tracer (qemu or lackey)");
    }
    tracer = *parsed;
  }
  const bool strict = vm.count("strict") != 0;
  if (strict && tracer == Tracer::kLackey) {
    throw UsageError(
        "--strict: lackey cannot count the processes it leaves out; record with --tracer qemu");
  }
  const std::string out = vm["out"].as<std::string>();
  if (out == "-") {
    throw UsageError("--out: standard output is the command's; give a file");
  }
  const Format format = as_usage_error([&] { return format_from_path(out); });
  const bool start_at_marker = vm.count("start-at-marker") != 0;
  const TracerOptions options{.fetches = vm.count("fetches") != 0,
                              .markers = start_at_marker || vm.count("roi-markers") != 0};
  if (options.markers && tracer == Tracer::kLackey) {
    throw UsageError(std::string(start_at_marker ? "--start-at-marker" : "--roi-markers") +
                     ": lackey does not report the marker instruction; record with --tracer "
                     "qemu");
  }
  if (start_at_marker && vm.count("start-after") != 0) {
    throw UsageError("--start-at-marker and --start-after: give one start");
  }
  std::uint64_t start_after = 0;
  if (vm.count("start-after")) {
    const std::string text = vm["start-after"].as<std::string>();
    const std::optional<std::uint64_t> n = parse_unsigned(text);
    if (!n) {
      throw UsageError("--start-after: '" + text + "' is not a number of accesses");
    }
    start_after = *n;
  }

  if (const std::string why = tracer_unavailable(tracer); !why.empty()) {
    throw TraceError("cannot record with " + std::string(tracer_name(tracer)) + ": " + why);
  }
  const std::string program = resolve_executable(command.front());
  if (tracer == Tracer::kQemu) {
    if (const std::string interpreter = script_interpreter(program); !interpreter.empty()) {
      throw TraceError("'" + program + "' is a script (#!" + interpreter +
                       "), and qemu-user does not follow exec: name the interpreter "
                       "(pagesim trace record -- " +
                       interpreter + " " + program + " ...) or use --tracer lackey");
    }
  }
  std::vector<std::string> resolved = command;
  resolved.front() = program;

  // Binary: zstd level 1 in a worker thread of its own, so compression keeps pace with the
  // tracer (level 3, every other writer's, costs about 1.6 times the time for files about
  // 20 % smaller; `pagesim trace convert` recompresses at 3).
  std::unique_ptr<TraceWriter> writer =
      format == Format::kBinary
          ? std::make_unique<BinaryTraceWriter>(out, kRecordZstdLevel, kRecordZstdWorkers)
          : create_writer(out, format);
  writer->add_comment("pagesim trace record --tracer " + std::string(tracer_name(tracer)) +
                      (options.fetches ? " --fetches" : "") +
                      (start_at_marker   ? " --start-at-marker"
                       : options.markers ? " --roi-markers"
                                         : "") +
                      (start_after != 0 ? " --start-after " + std::to_string(start_after) : "") +
                      " -- " + quote_command(command));
  Pipe pipe;
  ChildProcess child(tracer_argv(tracer, options, kChildTraceFd, resolved), pipe.fds[1],
                     kChildTraceFd);
  pipe.close_write();  // the reader sees the end when the tracer (and its children) close theirs
  auto reader = tracer_reader(tracer, options, InputFile(pipe.release_read(), "tracer output"));

  const auto started = std::chrono::steady_clock::now();
  ProgressLine progress(progress_mode, "pagesim trace record", "recorded");
  std::vector<Record> batch(kBatchRecords);
  std::uint64_t records = 0;
  std::uint64_t skipped = 0;  // the first start_after accesses (a tracer writes no events)
  bool waiting_for_marker = start_at_marker;
  while (std::size_t n = reader->read(batch)) {
    std::size_t from = 0;
    if (skipped < start_after) {
      from = static_cast<std::size_t>(std::min<std::uint64_t>(n, start_after - skipped));
      skipped += from;
    }
    if (waiting_for_marker) {
      // Up to the first marker's !roi begin, which is kept.
      while (from < n && batch[from].op != EventOp::kRoiBegin) ++from;
      waiting_for_marker = from == n;
      skipped += from;
    }
    if (from < n) {
      writer->write(std::span<const Record>(batch.data() + from, n - from));
      records += n - from;
    }
    progress.update(skipped + records);
  }
  const int status = child.wait();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  progress.clear();
  if (const auto* lackey = dynamic_cast<const LackeyTraceReader*>(reader.get());
      lackey != nullptr && lackey->lines() == 0) {
    throw TraceError("valgrind wrote nothing: it did not start (" + describe_wait_status(status) +
                     ")");
  }
  std::int64_t unrecorded = 0;
  if (const auto* qemu = dynamic_cast<const QemuStreamReader*>(reader.get()); qemu != nullptr) {
    unrecorded = qemu->unrecorded_processes();
  }
  const std::string left_out =
      std::to_string(unrecorded) + " process" + (unrecorded == 1 ? "" : "es") + " that " +
      command.front() + " started (forked children, exec'd programs) " +
      (unrecorded == 1 ? "was" : "were") + " not recorded: qemu-user records the process it starts";
  if (strict && unrecorded > 0) {
    throw TraceError(left_out + " (--strict)");
  }
  const bool succeeded = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (records == 0 && !succeeded) {
    // Every program that runs makes accesses: the tracer could not start it.
    throw TraceError(std::string(tracer_name(tracer)) + " could not run " + command.front() + " (" +
                     describe_wait_status(status) + ", no accesses; see its messages above)");
  }
  if (start_at_marker && waiting_for_marker) {
    throw TraceError(command.front() +
                     " never executed the marker instruction (xchg %bx,%bx), so nothing was "
                     "recorded (--start-at-marker)");
  }
  writer->finish();
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.1f s, %.2f M records/s", seconds,
                seconds > 0 ? double(records) / 1e6 / seconds : 0.0);
  std::cerr << "pagesim trace record: " << out << ": " << records << " records ("
            << format_name(format) << ", " << tracer_name(tracer) << ", " << rate
            << (start_after != 0 || start_at_marker
                    ? ", the first " + std::to_string(skipped) + " left out"
                    : "")
            << ")\n";
  if (unrecorded > 0) {
    std::cerr << "pagesim trace record: warning: " << left_out << "\n";
  }
  if (!succeeded) {
    std::cerr << "pagesim trace record: " << command.front() << " " << describe_wait_status(status)
              << "; the trace of what it did is written\n";
    return kRecordCommandFailed;
  }
  return 0;
}

}  // namespace

int run_record_command(const std::vector<std::string>& args) { return record(args); }

}  // namespace pagesim::traces
