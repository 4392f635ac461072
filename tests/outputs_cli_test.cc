// End-to-end: what the output options (replay --json/--csv/--save-config, compare --json,
// config --out, trace gen --out, trace convert's OUT) do to the path they are given
// (base/atomic_file.h). The expected behaviour is POSIX's: rename(2) replaces a directory
// entry, open(2) without O_CREAT writes a device or FIFO where it is.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/cli_harness.h"

namespace pagesim::testing {
namespace {

namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every name in the folder, hidden ones (temporaries) included, sorted.
std::vector<std::string> list(const TempDir& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

// The PID of a process that has exited and been reaped: no process has it.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

// Copies what arrives through a FIFO to a string, in a thread (its open waits for the
// writer's, and the writer's for it).
class FifoReader {
 public:
  explicit FifoReader(const std::string& path)
      : m_path(path), m_thread([this, path] { m_text = read_text(path); }) {}
  // Called once the writer has exited. If it never opened the FIFO (it failed first), the
  // reader still waits in open(2): a writer opened and closed here ends that wait with an
  // empty text, so the test fails instead of hanging (ENXIO, harmless, when the reader is
  // done already).
  std::string join() {
    const int fd = ::open(m_path.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) {
      ::close(fd);
    }
    m_thread.join();
    return m_text;
  }

 private:
  std::string m_path;
  std::string m_text;
  std::thread m_thread;
};

// A small trace in the folder.
std::string small_trace(const TempDir& dir) {
  write_text(dir.file("t.trace"), sweep_trace(0x10000000, 16, 2, 1));
  return dir.file("t.trace");
}

TEST(Outputs, DevNullStaysACharacterDevice) {
  // Every command writing to /dev/null: before this was fixed, rename(2) over it replaced
  // the device by a regular file (as root). Safe now: devices are written in place.
  TempDir dir;
  const std::string trace = small_trace(dir);
  const struct stat before = lstat_of("/dev/null");
  ASSERT_TRUE(S_ISCHR(before.st_mode));
  for (const std::string& command :
       {"replay " + trace + " -q --json /dev/null --csv /dev/null --save-config /dev/null",
        "compare " + trace + " -q --modes native --json /dev/null",
        std::string("config --dump --out /dev/null"),
        std::string("trace gen sequential --count 100 --format text --out /dev/null"),
        std::string("trace gen sequential --count 100 --format binary --out /dev/null"),
        "trace convert " + trace + " /dev/null --format csv"}) {
    auto r = run_command(pagesim(command));
    EXPECT_EQ(r.status, 0) << command << "\n" << r.output;
    const struct stat after = lstat_of("/dev/null");
    EXPECT_TRUE(S_ISCHR(after.st_mode)) << command << ": still a character device";
    EXPECT_EQ(after.st_rdev, before.st_rdev) << command << ": still device (1, 3)";
    EXPECT_EQ(after.st_ino, before.st_ino) << command << ": the same node";
  }
  EXPECT_EQ(list(dir), std::vector<std::string>{"t.trace"}) << "no temporaries anywhere";
}

TEST(Outputs, FifoGetsTheOutputAndStaysAFifo) {
  TempDir dir;
  const std::string trace = small_trace(dir);
  const std::string fifo = dir.file("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  {
    FifoReader reader(fifo);
    auto r = run_command(pagesim("replay " + trace + " -q --json " + fifo));
    EXPECT_EQ(r.status, 0) << r.output;
    const std::string json = reader.join();
    EXPECT_EQ(json.front(), '{') << json;
    EXPECT_NE(json.find("\"sim.accesses\": 32"), std::string::npos) << json;
  }
  // A binary trace streamed into a FIFO (not seekable: the header's record count stays 0,
  // "unknown", as for standard output) reads back as the same records.
  {
    FifoReader reader(fifo);
    auto r = run_command(pagesim("trace gen zipf --count 5000 --format binary --out " + fifo));
    EXPECT_EQ(r.status, 0) << r.output;
    write_text(dir.file("copy.pgt"), reader.join());
  }
  auto direct = run_command(pagesim("trace gen zipf --count 5000 --out " + dir.file("d.pgt")));
  ASSERT_EQ(direct.status, 0) << direct.output;
  auto info_copy = run_command(pagesim("trace info " + dir.file("copy.pgt")));
  auto info_direct = run_command(pagesim("trace info " + dir.file("d.pgt")));
  ASSERT_EQ(info_copy.status, 0) << info_copy.output;
  // Everything after the first line ("trace: <name>"): counts, kinds, address range.
  auto body = [](const std::string& s) { return s.substr(s.find('\n')); };
  EXPECT_EQ(body(info_copy.output), body(info_direct.output));
  EXPECT_TRUE(S_ISFIFO(lstat_of(fifo).st_mode));
  EXPECT_EQ(list(dir), (std::vector<std::string>{"copy.pgt", "d.pgt", "pipe", "t.trace"}));
}

TEST(Outputs, SymlinkStaysALinkAndItsTargetGetsTheOutput) {
  TempDir dir;
  const std::string trace = small_trace(dir);
  fs::create_directory(dir.file("real"));
  write_text(dir.file("real/s.json"), "old");
  fs::create_symlink("real/s.json", dir.file("s.json"));
  fs::create_symlink("real/t.pgt", dir.file("t.pgt"));  // dangling: creates its target
  auto r = run_command(pagesim("replay " + trace + " -q --json " + dir.file("s.json")));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_command(pagesim("trace gen sequential --count 100 --out " + dir.file("t.pgt")));
  ASSERT_EQ(r.status, 0) << r.output;
  // rename(2) replaced the targets' directory entries, beside which the temporaries were.
  EXPECT_TRUE(S_ISLNK(lstat_of(dir.file("s.json")).st_mode));
  EXPECT_TRUE(S_ISLNK(lstat_of(dir.file("t.pgt")).st_mode));
  EXPECT_EQ(read_text(dir.file("real/s.json")).front(), '{');
  EXPECT_TRUE(S_ISREG(lstat_of(dir.file("real/t.pgt")).st_mode));
  EXPECT_EQ(run_command(pagesim("trace info " + dir.file("t.pgt"))).status, 0);
  EXPECT_EQ(list(dir), (std::vector<std::string>{"real", "s.json", "t.pgt", "t.trace"}));
}

TEST(Outputs, AFolderIsRefusedNamingThePath) {
  TempDir dir;
  const std::string trace = small_trace(dir);
  const std::string folder = dir.file("out");
  fs::create_directory(folder);
  for (const std::string& command :
       {"replay " + trace + " -q --json " + folder, "compare " + trace + " -q --json " + folder,
        "config --dump --out " + folder, "trace gen sequential --format text --out " + folder,
        "trace convert " + trace + " " + folder + " --format text"}) {
    auto r = run_command(pagesim(command));
    EXPECT_EQ(r.status, 1) << command << "\n" << r.output;
    EXPECT_NE(r.output.find(folder + ": cannot write: it is a folder"), std::string::npos)
        << command << "\n"
        << r.output;
    EXPECT_TRUE(fs::is_directory(folder));
    EXPECT_TRUE(fs::is_empty(folder)) << command;
  }
}

TEST(Outputs, TheSameFileTwiceIsAUsageError) {
  TempDir dir;
  const std::string trace = small_trace(dir);
  const std::string x = dir.file("x");
  auto refused = [&](const std::string& options) {
    auto r = run_command(pagesim("replay " + trace + " -q " + options));
    EXPECT_EQ(r.status, 2) << options << "\n" << r.output;
    EXPECT_NE(r.output.find("are the same file"), std::string::npos) << r.output;
    // Refused before the run: no summary, nothing written.
    EXPECT_EQ(r.output.find("accesses"), std::string::npos) << r.output;
  };
  refused("--json " + x + " --csv " + x);
  refused("--json " + x + " --save-config " + dir.file("./x"));
  EXPECT_FALSE(fs::exists(x));
  fs::create_symlink("x", dir.file("link"));  // one file under a link: one rename target
  refused("--json " + dir.file("link") + " --csv " + x);
  write_text(x, "old");
  fs::create_hard_link(x, dir.file("hard"));  // one inode under two names
  refused("--csv " + x + " --json " + dir.file("hard"));
  EXPECT_EQ(read_text(x), "old");
  auto r =
      run_command(pagesim("replay " + trace + " -q --json " + x + " --csv " + dir.file("x.csv")));
  EXPECT_EQ(r.status, 0) << "different files: fine\n" << r.output;
}

TEST(Outputs, ASecondOutputThatFailsLeavesTheFirstUnwritten) {
  TempDir dir;
  const std::string trace = small_trace(dir);
  // /dev/full refuses every write with ENOSPC, like a full disk. The regular outputs are
  // staged first and renamed only after the in-place ones are written.
  auto r = run_command(
      pagesim("replay " + trace + " -q --json " + dir.file("s.json") + " --csv /dev/full"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("/dev/full: cannot write: No space left on device"), std::string::npos)
      << r.output;
  EXPECT_EQ(list(dir), std::vector<std::string>{"t.trace"}) << "no s.json, no temporary";
  // A file size limit (ulimit -f, in 512-byte blocks in dash) as a full disk for regular
  // files, halfway between the sizes of the JSON and the CSV (longer: a description per
  // row): the JSON fits, the CSV does not, so its temporary's write fails with EFBIG after
  // the JSON's is complete. SIGXFSZ, which would kill pagesim, is ignored (inherited
  // across exec).
  r = run_command(pagesim("replay " + trace + " -q --json " + dir.file("size.json") + " --csv " +
                          dir.file("size.csv")));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto json_bytes = fs::file_size(dir.file("size.json"));
  const auto csv_bytes = fs::file_size(dir.file("size.csv"));
  fs::remove(dir.file("size.json"));
  fs::remove(dir.file("size.csv"));
  const auto blocks = (json_bytes + csv_bytes) / 2 / 512;
  ASSERT_LT(json_bytes, blocks * 512) << "the limit lets the JSON through";
  ASSERT_GT(csv_bytes, blocks * 512) << "and stops the CSV";
  const std::string limited = "sh -c 'trap \"\" XFSZ; ulimit -f " + std::to_string(blocks) +
                              "; exec " +
                              pagesim("replay " + trace + " -q --json " + dir.file("s.json") +
                                      " --csv " + dir.file("s.csv")) +
                              "'";
  r = run_command(limited);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(dir.file("s.csv") + ": cannot write: File too large"), std::string::npos)
      << r.output;
  EXPECT_EQ(list(dir), std::vector<std::string>{"t.trace"}) << "no s.json, no temporaries";
  // An output in a folder that does not exist is refused before the run.
  r = run_command(pagesim("replay " + trace + " -q --json " + dir.file("s.json") + " --csv " +
                          dir.file("missing/s.csv")));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("folder " + dir.file("missing") + " does not exist"), std::string::npos)
      << r.output;
  EXPECT_EQ(list(dir), std::vector<std::string>{"t.trace"});
}

TEST(Outputs, ATemporaryLeftByAKilledRunIsSweptByTheNext) {
  TempDir dir;
  const std::string out = dir.file("big.pgt");
  // A long generation, killed (SIGKILL: no clean-up can run) once its temporary exists.
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDOUT_FILENO);
    ::execl(PAGESIM_BIN, PAGESIM_BIN, "trace", "gen", "uniform", "--count", "2000000000", "--out",
            out.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::string temporary;
  for (int i = 0; i < 1000 && temporary.empty(); ++i) {
    for (const auto& name : list(dir)) {
      if (name.rfind(".big.pgt.pagesim-tmp." + std::to_string(pid) + ".", 0) == 0) {
        temporary = name;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_FALSE(temporary.empty()) << "the temporary appeared";
  EXPECT_EQ(list(dir), std::vector<std::string>{temporary}) << "no big.pgt: never renamed";
  // A stale temporary of replay's outputs too (a name as pagesim makes them, dead PID).
  const std::string stale_json = ".s.json.pagesim-tmp." + std::to_string(dead_pid()) + ".0";
  write_text(dir.file(stale_json), "partial");
  // The next runs writing these targets remove them: their PIDs are gone (kill(2) ESRCH).
  auto r = run_command(pagesim("trace gen uniform --count 100 --out " + out));
  ASSERT_EQ(r.status, 0) << r.output;
  write_text(dir.file("t.trace"), "R 0x1000\n");
  r = run_command(pagesim("replay " + dir.file("t.trace") + " -q --json " + dir.file("s.json")));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(list(dir), (std::vector<std::string>{"big.pgt", "s.json", "t.trace"}));
}

TEST(Outputs, DevStdoutIsTheCommandsStandardOutput) {
  TempDir dir;
  const std::string trace = small_trace(dir);
  // Standard output a pipe (popen): the JSON goes down it.
  auto r = run_command(pagesim("replay " + trace + " -q --json /dev/stdout"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.front(), '{') << r.output;
  // Standard output a file: /dev/stdout is written through descriptor 1 (as '>&1'), not
  // renamed over the file the shell opened, so the summary printed after it follows it.
  r = run_command("sh -c '" + pagesim("replay " + trace + " --json /dev/stdout") + " > " +
                  dir.file("out.txt") + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string text = read_text(dir.file("out.txt"));
  EXPECT_EQ(text.front(), '{') << text;
  EXPECT_NE(text.find("}\n"), std::string::npos) << text;
  EXPECT_NE(text.find("accesses", text.find("}\n")), std::string::npos) << "then the summary\n"
                                                                        << text;
  EXPECT_TRUE(S_ISLNK(lstat_of("/dev/stdout").st_mode));
}

}  // namespace
}  // namespace pagesim::testing
