// Output files: what each kind of path becomes after a write (POSIX rename(2) and open(2)
// semantics), the all-or-none commit of several outputs, and the sweep of stale temporaries.
#include "base/atomic_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace pagesim {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed at the end.
class Dir {
 public:
  Dir() {
    static int counter = 0;
    m_path = fs::temp_directory_path() /
             ("pagesim_af_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(m_path);
    fs::create_directories(m_path);
  }
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  ~Dir() {
    std::error_code ignored;
    fs::remove_all(m_path, ignored);
  }
  std::string file(const std::string& name) const { return (m_path / name).string(); }
  // Every name in the folder, hidden ones included (temporaries are hidden), sorted.
  std::vector<std::string> list() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(m_path)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  fs::path m_path;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

// The message of the OutputError `f` throws ("" if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const OutputError& e) {
    return e.what();
  }
  return "";
}

// The PID of a process that has exited and been reaped: no process has it (until the PID
// counter wraps around pid_max, far beyond one test).
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

// Reads everything from a FIFO in a thread (its open waits for the writer, as the writer's
// waits for it).
class FifoReader {
 public:
  explicit FifoReader(const std::string& path)
      : m_thread([this, path] { m_text = read_text(path); }) {}
  std::string join() {
    m_thread.join();
    return m_text;
  }

 private:
  std::string m_text;
  std::thread m_thread;
};

TEST(AtomicFile, WritesWholeFileAndLeavesNoTemporary) {
  Dir dir;
  write_file_atomically(dir.file("out.json"), "{}\n");
  EXPECT_EQ(read_text(dir.file("out.json")), "{}\n");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"out.json"}) << "the temporary was renamed";
}

TEST(AtomicFile, UnwritableDirectoryThrowsNamingThePath) {
  EXPECT_EQ(error_of([] { write_file_atomically("/nonexistent-dir/out.json", "x"); }),
            "/nonexistent-dir/out.json: cannot write: folder /nonexistent-dir does not exist");
  // A regular file where a folder should be: open(2) and stat(2) fail with ENOTDIR.
  EXPECT_EQ(error_of([] { write_file_atomically("/dev/null/out.json", "x"); }),
            "/dev/null/out.json: cannot write: /dev/null is not a folder");
}

TEST(AtomicFile, DevNullStaysACharacterDevice) {
  // Safe even as root: a character device is opened and written in place, never renamed
  // over (which would replace the device node by a regular file for every process).
  const struct stat before = lstat_of("/dev/null");
  ASSERT_TRUE(S_ISCHR(before.st_mode));
  EXPECT_EQ(resolve_output("/dev/null").kind, OutputTarget::Kind::kInPlace);
  write_file_atomically("/dev/null", "discarded\n");
  const struct stat after = lstat_of("/dev/null");
  EXPECT_TRUE(S_ISCHR(after.st_mode)) << "still the device";
  EXPECT_EQ(after.st_rdev, before.st_rdev) << "the same device (1, 3)";
  EXPECT_EQ(after.st_ino, before.st_ino) << "the same node, not a new one";
}

TEST(AtomicFile, FifoGetsTheContentAndStaysAFifo) {
  Dir dir;
  const std::string fifo = dir.file("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  FifoReader reader(fifo);
  write_file_atomically(fifo, "a,b\n1,2\n");
  // The reader sees end of file when the writer closes: all the bytes, in order.
  EXPECT_EQ(reader.join(), "a,b\n1,2\n");
  EXPECT_TRUE(S_ISFIFO(lstat_of(fifo).st_mode)) << "written in place, not replaced";
  EXPECT_EQ(dir.list(), std::vector<std::string>{"pipe"}) << "no temporary beside it";
}

TEST(AtomicFile, FifoWhoseReaderLeavesIsAnErrorNotASignal) {
  Dir dir;
  const std::string fifo = dir.file("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The reader opens and closes at once. 1 MiB does not fit the pipe's buffer (64 KiB), so
  // the write is still going when the reader has gone: write(2) fails with EPIPE, and the
  // SIGPIPE it also raises (which would kill the process by default) is blocked and eaten.
  std::thread reader([&] { ::close(::open(fifo.c_str(), O_RDONLY)); });
  const std::string error =
      error_of([&] { write_file_atomically(fifo, std::string(1 << 20, 'x')); });
  reader.join();
  EXPECT_EQ(error, fifo + ": cannot write: Broken pipe");
}

TEST(AtomicFile, SymlinkStaysALinkAndItsTargetGetsTheContent) {
  Dir dir;
  write_text(dir.file("target.json"), "old");
  ASSERT_EQ(::chmod(dir.file("target.json").c_str(), 0600), 0);
  // A relative link (resolved from the link's folder) to a relative link to the file.
  fs::create_symlink("target.json", dir.file("middle"));
  fs::create_symlink("middle", dir.file("link.json"));
  const OutputTarget t = resolve_output(dir.file("link.json"));
  EXPECT_EQ(t.kind, OutputTarget::Kind::kFile);
  EXPECT_EQ(t.file, dir.file("target.json"));
  write_file_atomically(dir.file("link.json"), "new");
  // rename(2) replaced the target's directory entry, not the links'.
  EXPECT_TRUE(S_ISLNK(lstat_of(dir.file("link.json")).st_mode));
  EXPECT_EQ(fs::read_symlink(dir.file("link.json")), "middle");
  EXPECT_TRUE(S_ISLNK(lstat_of(dir.file("middle")).st_mode));
  const struct stat target = lstat_of(dir.file("target.json"));
  EXPECT_TRUE(S_ISREG(target.st_mode));
  EXPECT_EQ(target.st_mode & 0777, 0600u) << "the new file keeps the old one's permissions";
  EXPECT_EQ(read_text(dir.file("target.json")), "new");
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"link.json", "middle", "target.json"}));
  // A dangling link creates its target, as the shell's '>' does.
  fs::create_symlink("created.json", dir.file("dangling"));
  write_file_atomically(dir.file("dangling"), "made");
  EXPECT_TRUE(S_ISLNK(lstat_of(dir.file("dangling")).st_mode));
  EXPECT_EQ(read_text(dir.file("created.json")), "made");
}

TEST(AtomicFile, FolderAndLinkToAFolderAreRefusedNamingThePath) {
  Dir dir;
  fs::create_directory(dir.file("sub"));
  fs::create_symlink("sub", dir.file("to_sub"));
  EXPECT_EQ(error_of([&] { write_file_atomically(dir.file("sub"), "x"); }),
            dir.file("sub") + ": cannot write: it is a folder");
  EXPECT_EQ(error_of([&] { write_file_atomically(dir.file("to_sub"), "x"); }),
            dir.file("to_sub") + ": cannot write: it leads to folder " + dir.file("sub"));
  EXPECT_TRUE(fs::is_directory(dir.file("sub")));
  EXPECT_TRUE(fs::is_empty(dir.file("sub")));
  EXPECT_TRUE(fs::is_symlink(dir.file("to_sub")));
}

TEST(AtomicFile, OwnDescriptorIsWrittenThroughADuplicate) {
  // /dev/fd/N and /proc/self/fd/N name this process's descriptor N. Linux would open the
  // pipe anew; a duplicate gives the shell's '>&N' (and works for sockets too).
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  for (const std::string name : {"/dev/fd/", "/proc/self/fd/"}) {
    const std::string path = name + std::to_string(fds[1]);
    const OutputTarget t = resolve_output(path);
    EXPECT_EQ(t.kind, OutputTarget::Kind::kDescriptor) << path;
    EXPECT_EQ(t.descriptor, fds[1]) << path;
    write_file_atomically(path, "via " + name + "\n");
  }
  ::close(fds[1]);
  char buf[256];
  const ssize_t n = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  EXPECT_EQ(std::string(buf, n > 0 ? std::size_t(n) : 0), "via /dev/fd/\nvia /proc/self/fd/\n");
  // The read end is open for reading only.
  ASSERT_EQ(::pipe(fds), 0);
  EXPECT_EQ(error_of([&] { resolve_output("/dev/fd/" + std::to_string(fds[0])); }),
            "/dev/fd/" + std::to_string(fds[0]) + ": cannot write: descriptor " +
                std::to_string(fds[0]) + " is open for reading only");
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(OutputSet, TheSameFileTwiceIsRefused) {
  Dir dir;
  const std::string x = dir.file("x.json");
  auto error = [](std::vector<std::pair<std::string, std::string>> outputs) -> std::string {
    OutputSet set;
    try {
      for (const auto& [label, path] : outputs) {
        set.add(label, path);
      }
    } catch (const SameOutputError& e) {
      return e.what();
    }
    return "";
  };
  // Not there yet: the same name, spelled two ways.
  EXPECT_EQ(
      error({{"--json", x}, {"--csv", x}}),
      "--csv " + x + " and --json " + x + " are the same file: one would overwrite the other");
  EXPECT_NE(error({{"--json", x}, {"--csv", dir.file("./x.json")}}), "");
  // A link to it (existing or not): rename would replace the one target twice.
  fs::create_symlink("x.json", dir.file("link"));
  EXPECT_NE(error({{"--json", x}, {"--csv", dir.file("link")}}), "");
  write_text(x, "old");
  EXPECT_NE(error({{"--json", dir.file("link")}, {"--csv", x}}), "");
  // A hard link: another name of one inode (stat(2) gives the same device and inode).
  fs::create_hard_link(x, dir.file("hard"));
  EXPECT_NE(error({{"--json", x}, {"--csv", dir.file("hard")}}), "");
  // Different files; and a device twice, where each write only adds (nothing replaced).
  EXPECT_EQ(error({{"--json", x}, {"--csv", dir.file("y.csv")}}), "");
  EXPECT_EQ(error({{"--json", "/dev/null"}, {"--csv", "/dev/null"}}), "");
}

TEST(OutputSet, AFolderGoneDuringTheRunLeavesTheOtherOutputsUnchanged) {
  Dir dir;
  fs::create_directory(dir.file("a"));
  fs::create_directory(dir.file("b"));
  for (bool first_exists : {false, true}) {
    if (first_exists) {
      write_text(dir.file("a/stats.json"), "old");
    }
    OutputSet set;
    const std::size_t json = set.add("--json", dir.file("a/stats.json"));
    const std::size_t csv = set.add("--csv", dir.file("b/stats.csv"));
    set.set_contents(json, "{}");
    set.set_contents(csv, "a,b");
    // The second folder goes away during the run: commit() looks up every path again
    // before writing anything.
    fs::remove(dir.file("b"));
    EXPECT_EQ(error_of([&] { set.commit(); }), dir.file("b/stats.csv") + ": cannot write: folder " +
                                                   dir.file("b") + " does not exist");
    if (first_exists) {
      EXPECT_EQ(read_text(dir.file("a/stats.json")), "old");
      EXPECT_EQ(fs::directory_iterator(dir.file("a"))->path().filename(), "stats.json");
    } else {
      EXPECT_TRUE(fs::is_empty(dir.file("a"))) << "no stats.json, no temporary";
    }
    fs::create_directory(dir.file("b"));
  }
}

TEST(OutputSet, ASecondOutputThatFillsTheDiskLeavesTheFirstUnchanged) {
  // RLIMIT_FSIZE stands for a full disk: a write past it fails with EFBIG (SIGXFSZ,
  // which would kill the process, ignored). The first output fits, the second does not:
  // its write fails after the first one's temporary is complete, and both are removed.
  Dir dir;
  write_text(dir.file("stats.json"), "old");
  OutputSet set;
  set.set_contents(set.add("--json", dir.file("stats.json")), "{}");
  set.set_contents(set.add("--csv", dir.file("stats.csv")), std::string(8192, 'x'));
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &before), 0);
  rlimit small = before;
  small.rlim_cur = 4096;
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string error = error_of([&] { set.commit(); });
  ::setrlimit(RLIMIT_FSIZE, &before);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(error, dir.file("stats.csv") + ": cannot write: File too large");
  EXPECT_EQ(read_text(dir.file("stats.json")), "old");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"stats.json"}) << "no stats.csv, no temporaries";
}

TEST(OutputSet, ASpecialFileThatFailsLeavesTheRegularOnesUnchanged) {
  // /dev/full fails every write with ENOSPC, as a full disk does. The in-place outputs are
  // written after the regular ones are staged and before any is renamed.
  Dir dir;
  write_text(dir.file("stats.json"), "old");
  OutputSet set;
  set.set_contents(set.add("--json", dir.file("stats.json")), "{}");
  set.set_contents(set.add("--csv", dir.file("new.csv")), "a,b");
  set.set_contents(set.add("--save-config", "/dev/full"), "x = 1");
  EXPECT_EQ(error_of([&] { set.commit(); }), "/dev/full: cannot write: No space left on device");
  EXPECT_EQ(read_text(dir.file("stats.json")), "old");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"stats.json"}) << "no new.csv, no temporaries";
}

TEST(OutputSet, AllOutputsAreWritten) {
  Dir dir;
  const std::string fifo = dir.file("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  FifoReader reader(fifo);
  OutputSet set;
  set.set_contents(set.add("--json", dir.file("s.json")), "{}");
  set.set_contents(set.add("--csv", fifo), "a,b");
  set.set_contents(set.add("--save-config", "/dev/null"), "x = 1");
  set.commit();
  EXPECT_EQ(reader.join(), "a,b");
  EXPECT_EQ(read_text(dir.file("s.json")), "{}");
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"pipe", "s.json"}));
}

TEST(AtomicFile, StaleTemporariesOfDeadProcessesAreSwept) {
  Dir dir;
  const std::string out = dir.file("out.json");
  EXPECT_EQ(temporary_prefix(out), ".out.json.pagesim-tmp.");
  const std::string dead = std::to_string(dead_pid());
  const std::string live = std::to_string(::getppid());  // the test's parent: alive
  const std::vector<std::string> swept = {".out.json.pagesim-tmp." + dead + ".0",
                                          ".out.json.pagesim-tmp." + dead};
  const std::vector<std::string> kept = {
      ".out.json.pagesim-tmp." + live + ".0",    // a live process is still writing it
      ".other.json.pagesim-tmp." + dead + ".0",  // another target's
      ".out.json.pagesim-tmp.x" + dead,          // not a name pagesim makes
      "out.json.tmp." + dead};                   // not one of ours either
  for (const auto& name : swept) {
    write_text(dir.file(name), "partial");
  }
  for (const auto& name : kept) {
    write_text(dir.file(name), "partial");
  }
  write_file_atomically(out, "{}");
  std::vector<std::string> expected = kept;
  expected.push_back("out.json");
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(dir.list(), expected);
  EXPECT_EQ(sweep_stale_temporaries(out), 0u) << "nothing stale left";
}

TEST(AtomicOutput, UncommittedLeavesNothingAndWriteAtPatches) {
  Dir dir;
  {
    AtomicOutput out(resolve_output(dir.file("t.pgt")));
    out.write("0000 tail");
    EXPECT_EQ(dir.list().size(), 1u);
    EXPECT_EQ(dir.list()[0].rfind(".t.pgt.pagesim-tmp.", 0), 0u) << dir.list()[0];
  }
  EXPECT_TRUE(dir.list().empty()) << "destroyed uncommitted: the temporary is removed";
  AtomicOutput out(resolve_output(dir.file("t.pgt")));
  EXPECT_TRUE(out.seekable());
  out.write("0000 tail");
  out.write_at(0, "head", 4);
  out.commit();
  EXPECT_EQ(read_text(dir.file("t.pgt")), "head tail");
  EXPECT_FALSE(AtomicOutput(resolve_output("/dev/null")).seekable());
}

}  // namespace
}  // namespace pagesim
