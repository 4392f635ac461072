#include "traces/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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
  // In front of whatever an earlier unread left pending: two sniffers in turn (open_trace's
  // binary magic, then DecompressedInput's compression magic) each read and push back.
  const std::size_t pending = m_unread_end - m_unread_begin;
  if (size + pending > kMaxUnread || size > m_offset) {
    throw std::logic_error("InputFile::unread: at most 16 bytes pushed back, of bytes read");
  }
  unsigned char merged[kMaxUnread];
  std::memcpy(merged, bytes, size);
  std::memcpy(merged + size, m_unread + m_unread_begin, pending);
  std::memcpy(m_unread, merged, size + pending);
  m_unread_begin = 0;
  m_unread_end = size + pending;
  m_offset -= size;
}

namespace {

// Runs `f`, turning the OutputError of sim/atomic_file into the traces' TraceError (the same
// text: "<path>: cannot write: <reason>").
template <class F>
void as_trace_error(F&& f) {
  try {
    f();
  } catch (const OutputError& e) {
    throw TraceError(e.what());
  }
}

}  // namespace

OutputFile::OutputFile(std::string path) : m_path(std::move(path)) {
  if (m_path == "-") {
    return;
  }
  as_trace_error([&] { m_output = std::make_unique<AtomicOutput>(resolve_output(m_path)); });
}

OutputFile::~OutputFile() = default;  // an uncommitted AtomicOutput removes its temporary

void OutputFile::write(const void* data, std::size_t size) {
  if (m_committed) {
    throw std::logic_error("OutputFile::write after commit");
  }
  if (m_output == nullptr) {
    const auto* p = static_cast<const unsigned char*>(data);
    while (size > 0) {
      const ssize_t n = ::write(STDOUT_FILENO, p, size);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        throw TraceError(m_path + ": cannot write: " + error_text(errno));
      }
      p += n;
      size -= static_cast<std::size_t>(n);
    }
    return;
  }
  as_trace_error([&] { m_output->write(data, size); });
}

void OutputFile::write_at(std::uint64_t offset, const void* data, std::size_t size) {
  if (m_committed || !seekable()) {
    throw std::logic_error("OutputFile::write_at on a committed or unseekable file");
  }
  as_trace_error([&] { m_output->write_at(offset, data, size); });
}

void OutputFile::commit() {
  if (m_committed) {
    throw std::logic_error("OutputFile::commit twice");
  }
  m_committed = true;
  if (m_output != nullptr) {
    as_trace_error([&] { m_output->commit(); });
  }
}

}  // namespace pagesim::traces
