#include "base/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

namespace pagesim {

namespace {

// Linux's limit on symbolic links followed in one lookup (MAXSYMLINKS, fs/namei.c).
constexpr int kMaxLinks = 40;
// Bytes of the target's name kept in its temporary's name: with the prefix and suffix
// (".pagesim-tmp.<pid>.<n>", under 40 bytes) the name stays below NAME_MAX (255).
constexpr std::size_t kTemporaryNameBytes = 200;

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// `name` in the folder of `file`.
std::string beside(const std::string& file, const std::string& name) {
  const auto slash = file.rfind('/');
  return slash == std::string::npos ? name : file.substr(0, slash + 1) + name;
}

OutputError cannot_write(const std::string& path, const std::string& reason) {
  return OutputError(path + ": cannot write: " + reason);
}

std::string kind_name(mode_t mode) {
  if (S_ISBLK(mode)) {
    return "a block device";
  }
  return "neither a regular file, a character device, a FIFO nor a socket";
}

// Throws unless `folder` exists, is a folder and this process may create files in it.
void check_folder(const std::string& path, const std::string& folder) {
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      throw cannot_write(path, "folder " + folder + " does not exist");
    }
    throw cannot_write(path, "folder " + folder + ": " + std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) {
    throw cannot_write(path, folder + " is not a folder");
  }
  if (::access(folder.c_str(), W_OK) != 0) {
    const int err = errno;
    throw cannot_write(path, "folder " + folder +
                                 (err == EACCES ? std::string(" is not writable")
                                                : ": " + std::string(std::strerror(err))));
  }
}

// `file` with its folder made canonical (links and "." resolved): one spelling per file,
// also for a file that does not exist yet.
std::string canonical_name(const std::string& file) {
  char* real = ::realpath(folder_of(file).c_str(), nullptr);
  if (real == nullptr) {
    return file;
  }
  std::string out(real);
  std::free(real);
  return (out == "/" ? out : out + "/") + name_of(file);
}

// The descriptor `path` names when it is an entry of this process's /proc/<pid>/fd (as
// /dev/stdout, /dev/fd/N and /proc/self/fd/N are, through links). Linux opens such a name
// anew (a new file description at offset 0, or ENXIO for a socket) rather than duplicating
// the descriptor as other systems do; writing through a duplicate gives '>&N' semantics.
std::optional<int> own_descriptor(const std::string& path) {
  const std::string name = name_of(path);
  if (name.empty() || name.size() > 9 ||
      name.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  char* real = ::realpath(folder_of(path).c_str(), nullptr);
  if (real == nullptr) {
    return std::nullopt;
  }
  const bool own = std::string(real) == "/proc/" + std::to_string(::getpid()) + "/fd";
  std::free(real);
  if (!own) {
    return std::nullopt;
  }
  return std::stoi(name);
}

void set_identity(OutputTarget& t, const struct stat& st) {
  t.exists = true;
  t.device = st.st_dev;
  t.inode = st.st_ino;
  t.mode = st.st_mode;
}

// Blocks SIGPIPE in this thread while writing to a pipe, FIFO or socket in place, so a
// reader that went away gives EPIPE (an error naming the path, temporaries removed) rather
// than killing the process; a SIGPIPE the write raised is consumed before unblocking.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&m_pipe);
    sigaddset(&m_pipe, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &m_pipe, &m_old);
    sigset_t pending;
    m_was_pending = ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;
  ~SigpipeBlock() {
    sigset_t pending;
    if (!m_was_pending && ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero{};
      ::sigtimedwait(&m_pipe, nullptr, &zero);
    }
    ::pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
  }

 private:
  sigset_t m_pipe;
  sigset_t m_old;
  bool m_was_pending = false;
};

// Writes all of `data` (retrying short writes and EINTR); 0 or the errno of the failure.
int write_all(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}

}  // namespace

OutputTarget resolve_output(const std::string& path) {
  OutputTarget t;
  t.path = path;
  if (path.empty()) {
    throw OutputError("cannot write to an empty file name");
  }
  std::string p = path;
  for (int links = 0;; ++links) {
    if (links > kMaxLinks) {
      throw cannot_write(path, std::strerror(ELOOP));
    }
    if (const auto fd = own_descriptor(p)) {
      const int flags = ::fcntl(*fd, F_GETFL);
      if (flags < 0) {
        throw cannot_write(path, "descriptor " + std::to_string(*fd) + " is not open");
      }
      if ((flags & O_ACCMODE) == O_RDONLY) {
        throw cannot_write(path, "descriptor " + std::to_string(*fd) + " is open for reading only");
      }
      struct stat st {};
      if (::fstat(*fd, &st) == 0) {
        set_identity(t, st);
      }
      t.kind = OutputTarget::Kind::kDescriptor;
      t.descriptor = *fd;
      return t;
    }
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      const int err = errno;
      if (err == ENOENT || err == ENOTDIR) {
        check_folder(path, folder_of(p));
      }
      if (err != ENOENT) {
        throw cannot_write(path, std::strerror(err));
      }
      // Nothing there yet: created by the rename.
      t.kind = OutputTarget::Kind::kFile;
      t.file = p;
      t.canonical = canonical_name(p);
      return t;
    }
    if (S_ISLNK(st.st_mode)) {
      char buf[PATH_MAX];
      const ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
      if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buf) {
        throw cannot_write(path, "cannot read link " + p);
      }
      const std::string to(buf, static_cast<std::size_t>(n));
      if (to.front() != '/' && p.starts_with("/proc/")) {
        // A /proc magic link of another process's descriptor ("pipe:[1234]",
        // "socket:[5678]"): its text is no path, but open(2) of the link reaches the object.
        if (::stat(p.c_str(), &st) != 0) {
          throw cannot_write(path, std::strerror(errno));
        }
        if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
          throw cannot_write(path, p + " is " + kind_name(st.st_mode));
        }
        t.kind = OutputTarget::Kind::kInPlace;
        t.file = p;
        set_identity(t, st);
        return t;
      }
      p = to.front() == '/' ? to : beside(p, to);
      continue;
    }
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
      t.kind = OutputTarget::Kind::kInPlace;
      t.file = p;
      set_identity(t, st);
      return t;
    }
    if (S_ISDIR(st.st_mode)) {
      throw cannot_write(path, p == path ? "it is a folder" : "it leads to folder " + p);
    }
    if (!S_ISREG(st.st_mode)) {
      throw cannot_write(path, (p == path ? "it is " : p + " is ") + kind_name(st.st_mode));
    }
    check_folder(path, folder_of(p));
    t.kind = OutputTarget::Kind::kFile;
    t.file = p;
    t.canonical = canonical_name(p);
    set_identity(t, st);
    return t;
  }
}

bool same_file(const OutputTarget& a, const OutputTarget& b) {
  using Kind = OutputTarget::Kind;
  if (a.kind != Kind::kFile && b.kind != Kind::kFile) {
    return false;  // both written in place: each adds to the device or pipe
  }
  if (a.exists && b.exists && a.device == b.device && a.inode == b.inode) {
    return true;  // one inode: one name, two links, or hard links
  }
  return a.kind == Kind::kFile && b.kind == Kind::kFile && a.canonical == b.canonical;
}

std::string temporary_prefix(const std::string& file) {
  return "." + name_of(file).substr(0, kTemporaryNameBytes) + ".pagesim-tmp.";
}

std::size_t sweep_stale_temporaries(const std::string& file) {
  const std::string prefix = temporary_prefix(file);
  DIR* dir = ::opendir(folder_of(file).c_str());
  if (dir == nullptr) {
    return 0;
  }
  std::size_t removed = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name(entry->d_name);
    if (!name.starts_with(prefix)) {
      continue;
    }
    // "<pid>" or "<pid>.<n>", digits only: anything else is not one of ours.
    const std::string_view rest = name.substr(prefix.size());
    const auto dot = rest.find('.');
    const std::string_view pid_text = rest.substr(0, dot);
    const std::string_view counter = dot == std::string_view::npos ? "0" : rest.substr(dot + 1);
    auto digits = [](std::string_view s) {
      return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == s.npos;
    };
    if (!digits(pid_text) || !digits(counter)) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::stol(std::string(pid_text)));
    if (pid <= 0 || pid == ::getpid()) {
      continue;
    }
    // ESRCH: no such process. EPERM means it exists (another user's): leave it.
    if (::kill(pid, 0) == 0 || errno != ESRCH) {
      continue;
    }
    struct stat st {};
    if (::fstatat(::dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode)) {
      continue;
    }
    if (::unlinkat(::dirfd(dir), entry->d_name, 0) == 0) {
      ++removed;
    }
  }
  ::closedir(dir);
  return removed;
}

AtomicOutput::AtomicOutput(OutputTarget target) : m_target(std::move(target)) {
  switch (m_target.kind) {
    case OutputTarget::Kind::kFile: {
      sweep_stale_temporaries(m_target.file);
      // A unique name beside the target, so the rename stays on one file system. O_EXCL
      // guards against a live process's temporary; the counter against this process's
      // other outputs.
      static std::atomic<unsigned> counter{0};
      const std::string prefix = temporary_prefix(m_target.file) + std::to_string(::getpid()) + ".";
      for (int attempt = 0; attempt < 100; ++attempt) {
        m_temporary = beside(m_target.file, prefix + std::to_string(counter.fetch_add(1)));
        m_fd =
            ::open(m_temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (m_fd >= 0 || errno != EEXIST) {
          break;
        }
      }
      if (m_fd < 0) {
        const int err = errno;
        m_temporary.clear();
        throw cannot_write(m_target.path, std::strerror(err));
      }
      if (m_target.exists) {
        // The new file keeps the old one's permissions (not its owner: only root could).
        ::fchmod(m_fd, m_target.mode & 0777);
      }
      break;
    }
    case OutputTarget::Kind::kInPlace: {
      // No O_CREAT, no O_TRUNC: the file exists and is not a regular file.
      m_fd = ::open(m_target.file.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
      if (m_fd < 0) {
        const int err = errno;
        throw cannot_write(m_target.path, err == ENXIO && S_ISSOCK(m_target.mode)
                                              ? "it is a socket, which open(2) cannot write"
                                              : std::strerror(err));
      }
      struct stat st {};
      if (::fstat(m_fd, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        ::close(m_fd);
        m_fd = -1;
        throw cannot_write(m_target.path, "it changed into a regular file or folder meanwhile");
      }
      break;
    }
    case OutputTarget::Kind::kDescriptor:
      m_fd = ::fcntl(m_target.descriptor, F_DUPFD_CLOEXEC, 3);
      if (m_fd < 0) {
        throw cannot_write(m_target.path, std::strerror(errno));
      }
      break;
  }
}

AtomicOutput::~AtomicOutput() {
  if (!m_committed) {
    discard();
  }
}

void AtomicOutput::discard() noexcept {
  if (m_fd >= 0) {
    ::close(m_fd);
    m_fd = -1;
  }
  if (!m_temporary.empty()) {
    ::unlink(m_temporary.c_str());
    m_temporary.clear();
  }
}

void AtomicOutput::fail(const std::string& what, int error) {
  discard();
  m_committed = true;  // nothing left to clean up
  throw OutputError(m_target.path + ": " + what + ": " + std::strerror(error));
}

void AtomicOutput::write(const void* data, std::size_t size) {
  if (m_closed) {
    throw std::logic_error("AtomicOutput::write after close");
  }
  int err = 0;
  if (seekable()) {
    err = write_all(m_fd, data, size);
  } else {
    const SigpipeBlock block;
    err = write_all(m_fd, data, size);
  }
  if (err != 0) {
    fail("cannot write", err);
  }
}

void AtomicOutput::write_at(std::uint64_t offset, const void* data, std::size_t size) {
  if (m_closed || !seekable()) {
    throw std::logic_error("AtomicOutput::write_at on a closed or unseekable output");
  }
  const auto* p = static_cast<const unsigned char*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(m_fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail("cannot write", errno);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
}

void AtomicOutput::close() {
  if (m_closed) {
    return;
  }
  m_closed = true;
  const int fd = std::exchange(m_fd, -1);
  // Linux releases the descriptor even when close() reports EINTR: not an error here.
  if (::close(fd) != 0 && errno != EINTR) {
    fail("cannot write", errno);
  }
}

void AtomicOutput::commit() {
  if (m_committed) {
    throw std::logic_error("AtomicOutput::commit twice or after an error");
  }
  close();
  if (m_target.kind == OutputTarget::Kind::kFile &&
      std::rename(m_temporary.c_str(), m_target.file.c_str()) != 0) {
    fail("cannot write", errno);
  }
  m_temporary.clear();
  m_committed = true;
}

std::size_t OutputSet::add(std::string label, std::string path) {
  Output o;
  o.target = resolve_output(path);
  o.label = std::move(label);
  o.path = std::move(path);
  m_outputs.push_back(std::move(o));
  try {
    check_distinct();
  } catch (const SameOutputError&) {
    m_outputs.pop_back();
    throw;
  }
  return m_outputs.size() - 1;
}

void OutputSet::set_contents(std::size_t index, std::string contents) {
  m_outputs.at(index).contents = std::move(contents);
  m_outputs.at(index).has_contents = true;
}

void OutputSet::check_distinct() const {
  auto name = [](const Output& o) { return o.label.empty() ? o.path : o.label + " " + o.path; };
  for (std::size_t i = 0; i < m_outputs.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (same_file(m_outputs[i].target, m_outputs[j].target)) {
        throw SameOutputError(name(m_outputs[i]) + " and " + name(m_outputs[j]) +
                              " are the same file: one would overwrite the other");
      }
    }
  }
}

void OutputSet::commit() {
  using Kind = OutputTarget::Kind;
  for (Output& o : m_outputs) {
    if (!o.has_contents) {
      throw std::logic_error("OutputSet::commit: no contents for " + o.path);
    }
    o.target = resolve_output(o.path);
  }
  check_distinct();
  // 1. Every regular file to its temporary. An exception destroys `staged`, removing them.
  std::vector<std::unique_ptr<AtomicOutput>> staged;
  for (const Output& o : m_outputs) {
    if (o.target.kind == Kind::kFile) {
      staged.push_back(std::make_unique<AtomicOutput>(o.target));
      staged.back()->write(o.contents);
      staged.back()->close();
    }
  }
  // 2. The outputs written in place, which cannot be taken back: after everything that can
  // still fail leaving no trace.
  for (const Output& o : m_outputs) {
    if (o.target.kind != Kind::kFile) {
      AtomicOutput out(o.target);
      out.write(o.contents);
      out.commit();
    }
  }
  // 3. The renames (see the header for the window between them).
  for (std::size_t i = 0; i < staged.size(); ++i) {
    try {
      staged[i]->commit();
    } catch (const OutputError& e) {
      std::string written;
      for (std::size_t j = 0; j < i; ++j) {
        written += (j == 0 ? "" : ", ") + staged[j]->target().path;
      }
      throw OutputError(std::string(e.what()) +
                        (written.empty() ? "" : " (written before it: " + written + ")"));
    }
  }
}

void write_file_atomically(const std::string& path, std::string_view contents) {
  OutputSet outputs;
  const std::size_t index = outputs.add("", path);
  outputs.set_contents(index, std::string(contents));
  outputs.commit();
}

}  // namespace pagesim
