#include "traces/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "traces/trace_reader.h"

namespace pagesim::traces {

namespace {

std::string error_text(int error) { return std::strerror(error); }

}  // namespace

InputFile::InputFile(std::string path) : m_path(std::move(path)) {
  if (m_path == "-") {
    m_fd = STDIN_FILENO;
    return;
  }
  m_fd = ::open(m_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m_fd < 0) {
    throw TraceError(m_path + ": cannot open: " + error_text(errno));
  }
  m_owns_fd = true;
  // A hint only: traces are read front to back once.
  ::posix_fadvise(m_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
}

InputFile::InputFile(int fd, std::string name)
    : m_path(std::move(name)), m_fd(fd), m_owns_fd(true) {}

InputFile::InputFile(InputFile&& other) noexcept
    : m_path(std::move(other.m_path)),
      m_fd(std::exchange(other.m_fd, -1)),
      m_owns_fd(std::exchange(other.m_owns_fd, false)),
      m_offset(other.m_offset),
      m_unread_begin(other.m_unread_begin),
      m_unread_end(other.m_unread_end) {
  std::memcpy(m_unread, other.m_unread, sizeof m_unread);
}

InputFile::~InputFile() {
  if (m_owns_fd) {
    ::close(m_fd);
  }
}

std::size_t InputFile::read(void* dst, std::size_t size) {
  auto* out = static_cast<unsigned char*>(dst);
  std::size_t done = 0;
  if (m_unread_begin < m_unread_end && size > 0) {
    std::size_t n = std::min(size, m_unread_end - m_unread_begin);
    std::memcpy(out, m_unread + m_unread_begin, n);
    m_unread_begin += n;
    done = n;
  }
  while (done < size) {
    ssize_t n = ::read(m_fd, out + done, size - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw TraceError(m_path + ": cannot read: " + error_text(errno));
    }
    if (n == 0) {
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  m_offset += done;
  return done;
}

void InputFile::unread(const void* bytes, std::size_t size) {
  if (m_unread_begin != m_unread_end || size > kMaxUnread || size > m_offset) {
    throw std::logic_error("InputFile::unread: only one unread of at most 16 bytes read");
  }
  std::memcpy(m_unread, bytes, size);
  m_unread_begin = 0;
  m_unread_end = size;
  m_offset -= size;
}

OutputFile::OutputFile(std::string path) : m_path(std::move(path)) {
  if (m_path == "-") {
    m_fd = STDOUT_FILENO;
    m_is_stdout = true;
    return;
  }
  // A unique name beside the target, so the rename stays on one file system. O_EXCL guards
  // against a leftover of another process; the counter against other writers of this one.
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    m_temp_path =
        m_path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
    m_fd = ::open(m_temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (m_fd >= 0 || errno != EEXIST) {
      break;
    }
  }
  if (m_fd < 0) {
    throw TraceError(m_path + ": cannot write: " + error_text(errno));
  }
}

OutputFile::~OutputFile() {
  if (!m_committed) {
    discard();
  }
}

void OutputFile::discard() noexcept {
  if (m_is_stdout) {
    return;
  }
  if (m_fd >= 0) {
    ::close(m_fd);
    m_fd = -1;
  }
  if (!m_temp_path.empty()) {
    ::unlink(m_temp_path.c_str());
  }
}

void OutputFile::fail(const char* what, int error) {
  discard();
  m_committed = true;  // nothing left to clean up
  throw TraceError(m_path + ": " + what + ": " + error_text(error));
}

void OutputFile::write(const void* data, std::size_t size) {
  if (m_committed) {
    throw std::logic_error("OutputFile::write after commit");
  }
  const auto* p = static_cast<const unsigned char*>(data);
  while (size > 0) {
    ssize_t n = ::write(m_fd, p, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail("cannot write", errno);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void OutputFile::write_at(std::uint64_t offset, const void* data, std::size_t size) {
  if (m_committed || m_is_stdout) {
    throw std::logic_error("OutputFile::write_at on a committed or unseekable file");
  }
  const auto* p = static_cast<const unsigned char*>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(m_fd, p, size, static_cast<off_t>(offset));
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

void OutputFile::commit() {
  if (m_committed) {
    throw std::logic_error("OutputFile::commit twice");
  }
  if (m_is_stdout) {
    m_committed = true;
    return;
  }
  int fd = std::exchange(m_fd, -1);
  if (::close(fd) != 0) {
    fail("cannot write", errno);
  }
  if (std::rename(m_temp_path.c_str(), m_path.c_str()) != 0) {
    fail("cannot write", errno);
  }
  m_committed = true;
}

}  // namespace pagesim::traces
