// Plain POSIX file access for the trace readers and writers: big unbuffered reads and writes
// (the callers batch), errors as TraceError naming the path, and output through a temporary
// beside the target that only a commit() renames into place (base/atomic_file.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/atomic_file.h"

namespace pagesim::traces {

// A file opened for sequential reading; "-" is standard input.
class InputFile {
 public:
  // Throws TraceError "<path>: cannot open: <reason>".
  explicit InputFile(std::string path);
  // Reads an open descriptor (a pipe from a tracer), closing it when done; `name` is what
  // error messages call it.
  InputFile(int fd, std::string name);
  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&&) = delete;
  InputFile(const InputFile&) = delete;
  ~InputFile();

  // Reads up to `size` bytes into `dst`; returns fewer only at the end of the file (0 after
  // it). Throws TraceError "<path>: cannot read: <reason>".
  std::size_t read(void* dst, std::size_t size);

  // Makes the next read() return these bytes first, before any an earlier unread left
  // pending (at most kMaxUnread in all; used after sniffing the first bytes of a file, by
  // each sniffer in turn). offset() goes back by `size`.
  static constexpr std::size_t kMaxUnread = 16;
  void unread(const void* bytes, std::size_t size);

  const std::string& path() const { return m_path; }
  // Bytes returned by read() so far: the file offset of the next byte to be read.
  std::uint64_t offset() const { return m_offset; }

 private:
  std::string m_path;
  int m_fd = -1;
  bool m_owns_fd = false;
  std::uint64_t m_offset = 0;
  unsigned char m_unread[kMaxUnread] = {};
  std::size_t m_unread_begin = 0;
  std::size_t m_unread_end = 0;
};

// A trace being written, by the rules of base/atomic_file.h: a regular file (or a new one)
// through a hidden temporary beside the target (symbolic links followed, stale temporaries
// of dead processes swept), renamed over it by commit() and removed by the destructor when
// not committed; a character device, FIFO or socket (/dev/null, a named pipe) or one of this
// process's descriptors (/dev/stdout) written in place as the records come, never replaced;
// a folder refused. "-" is standard output (written directly, nothing to rename or remove).
class OutputFile {
 public:
  // Throws TraceError "<path>: cannot write: <reason>".
  explicit OutputFile(std::string path);
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile();

  void write(const void* data, std::size_t size);
  // Overwrites bytes already written (binary header fields known only at the end). Only
  // when seekable(): a regular file; not standard output nor a file written in place.
  void write_at(std::uint64_t offset, const void* data, std::size_t size);
  bool seekable() const { return m_output != nullptr && m_output->seekable(); }

  // Closes the temporary and renames it to the target.
  void commit();

  const std::string& path() const { return m_path; }

 private:
  std::string m_path;
  std::unique_ptr<AtomicOutput> m_output;  // null for standard output
  bool m_committed = false;
};

}  // namespace pagesim::traces
