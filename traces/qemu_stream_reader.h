// Reader of the raw stream pagesim's qemu plugin writes (qemu_plugin/pagesim_stream.h): an
// 8-byte magic, then one 64-bit word per access (an escape word and the address for
// addresses of 2^56 or more), and notes: the count of processes left out, the program's
// markers, which become `!roi begin` and `!roi end` in turn, and (stream version 2) the vCPU
// (guest thread) whose words follow, which becomes `!cpu <vcpu>` at each change (none before
// the first block of vCPU 0: a trace starts on CPU 0). `pagesim trace record --tracer qemu`
// reads it from a pipe and writes the records in a trace format. Versions 1 and 2 are read.
//
// Errors name the stream and the byte: "tracer output: byte 8: ...". An empty stream means
// the plugin never ran (qemu failed to start or to load it).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "traces/file_io.h"
#include "traces/trace_reader.h"

namespace pagesim::traces {

class QemuStreamReader final : public TraceReader {
 public:
  explicit QemuStreamReader(InputFile input);

  std::size_t read(std::span<Record> out) override;
  std::string describe() const override;

  // Processes the recorded program started that were not recorded (forked children, exec'd
  // programs: the stream's notes, summed so far).
  std::int64_t unrecorded_processes() const { return m_unrecorded_processes; }

 private:
  // Makes m_words hold unread words; false at the end of the stream.
  bool refill();
  [[noreturn]] void fail(std::uint64_t byte, const std::string& what) const;

  InputFile m_input;
  bool m_magic_read = false;
  std::unique_ptr<std::uint64_t[]> m_words;
  std::size_t m_next = 0;            // next unread word in m_words
  std::size_t m_count = 0;           // words in m_words
  std::uint64_t m_words_offset = 0;  // stream offset of m_words[0]
  bool m_done = false;
  std::int64_t m_unrecorded_processes = 0;
  std::uint64_t m_markers = 0;  // marker words read: even, a region begins at the next
  int m_version = 0;            // the stream's, from its magic
  std::uint64_t m_cpu = 0;      // the vCPU of the words being read
};

}  // namespace pagesim::traces
