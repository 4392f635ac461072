// Binary trace format v1 (docs/trace-format.md has the byte-level definition).
//
//   offset  size  field          v1.2 value
//        0     8  magic          89 50 47 54 0d 0a 1a 0a   ("\x89PGT\r\n\x1a\n")
//        8     2  major version  1     (little-endian, as every field)
//       10     2  minor version  2     (1.2 added the kCpu event, 1.1 event records; 1.0 has
//                                      accesses only)
//       12     4  flags          0     (none defined; readers refuse unknown bits)
//       16     4  header bytes   32    (where the zstd data starts; >= 32)
//       20     4  reserved       0     (readers ignore it)
//       24     8  record count   number of records, 0 if unknown (written to a pipe)
//       32     ..  zstd data: one or more zstd frames holding the record stream
//
// Record stream (after decompression), one record after another:
//   tag byte:  bits 0-1 kind (0 R, 1 W, 2 X; 3 invalid), bits 2-4 size code (0..6: size is
//              1 << code bytes; 7: size follows), bits 5-7 zero
//   address:   LEB128 varint of zigzag(address - previous address), wrapping mod 2^64; the
//              previous address of the first record is 0
//   size:      LEB128 varint (1 .. 2^32-1), only when the size code is 7
// Event record (1.1), told apart by kind 3 in the tag:
//   tag byte:  bits 0-1 = 3, bits 2-7 the EventOp (1 .. kLastEventOp; record.h). Ops 1-16
//              are defined from 1.1 on, op 17 (kCpu) from 1.2 on.
//   flags:     LEB128 varint (Record::flags)
//   arguments: the op's 0-3 arguments (address, arg1, arg2), each a plain LEB128 varint,
//              absolute: events neither use nor move the accesses' delta base
//
// A reader refuses a newer major version. A newer minor version may add header fields
// (skipped) and record tags: a 1.0 reader stops at the first event with "access kind 3 is
// not defined", a 1.1 reader at the first op 17 with "event op 17 is not defined in format
// 1.1", never misreading it. This reader reads 1.0, 1.1 and 1.2, and refuses an op in a file
// whose header names a version before the op (only damage makes one). Every damage is a
// TraceError naming the byte offset.
#pragma once

#include <zstd.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "traces/file_io.h"
#include "traces/trace_reader.h"
#include "traces/trace_writer.h"

namespace pagesim::traces {

struct ZstdStreamDeleter {
  void operator()(ZSTD_DStream* stream) const { ZSTD_freeDStream(stream); }
  void operator()(ZSTD_CCtx* context) const { ZSTD_freeCCtx(context); }
};

inline constexpr std::array<unsigned char, 8> kBinaryMagic = {0x89, 'P',  'G',  'T',
                                                              '\r', '\n', 0x1a, '\n'};
inline constexpr std::uint16_t kBinaryMajorVersion = 1;
inline constexpr std::uint16_t kBinaryMinorVersion = 2;
inline constexpr std::size_t kBinaryHeaderBytes = 32;
// Byte offsets of the header fields.
inline constexpr std::size_t kHeaderMajorOffset = 8;
inline constexpr std::size_t kHeaderMinorOffset = 10;
inline constexpr std::size_t kHeaderFlagsOffset = 12;
inline constexpr std::size_t kHeaderBytesOffset = 16;
inline constexpr std::size_t kHeaderRecordCountOffset = 24;
// The longest header a reader accepts (a sanity bound on the header-bytes field).
inline constexpr std::uint32_t kMaxBinaryHeaderBytes = 1u << 20;
// The longest encoded access: tag, 10-byte address varint, 5-byte size varint. The fast
// decoder needs this many bytes readable after a record's start.
inline constexpr std::size_t kMaxEncodedAccessBytes = 16;
// The longest encoded event: tag, 3-byte flags varint, three 10-byte argument varints.
inline constexpr std::size_t kMaxEncodedEventBytes = 34;
// The longest encoded record of either kind: the decoder refills its buffer when fewer
// bytes than this remain, so a record is never split by a buffer end.
inline constexpr std::size_t kMaxEncodedRecordBytes = kMaxEncodedEventBytes;

// True if `bytes` starts with the whole binary magic.
bool has_binary_magic(std::span<const unsigned char> bytes);

class BinaryTraceReader final : public TraceReader {
 public:
  // Reads and checks the header; throws TraceError for a damaged or newer-major file.
  explicit BinaryTraceReader(InputFile input);

  std::size_t read(std::span<Record> out) override;
  std::string describe() const override;
  std::optional<std::uint64_t> record_count() const override;

  std::uint16_t major_version() const { return m_major; }
  std::uint16_t minor_version() const { return m_minor; }

 private:
  void read_header();
  // Moves the undecoded tail to the front and decompresses until the buffer is full or the
  // zstd data ends.
  void fill_decoded();
  // Decodes one record near the end of the stream, where fewer than kMaxEncodedRecordBytes
  // remain, or to explain why the fast path stopped.
  void decode_checked(Record& record);
  void check_record_count();
  [[noreturn]] void fail_at(std::uint64_t offset, const std::string& what) const;
  [[noreturn]] void fail_in_record(const std::string& what) const;
  std::uint64_t compressed_offset() const { return m_in_file_offset + m_in.pos; }

  InputFile m_input;
  std::unique_ptr<ZSTD_DStream, ZstdStreamDeleter> m_dstream;
  std::uint16_t m_major = 0;
  std::uint16_t m_minor = 0;
  std::uint64_t m_header_record_count = 0;

  // Compressed input: m_in.src is m_in_buffer, m_in_file_offset the file offset of its
  // first byte.
  std::unique_ptr<unsigned char[]> m_in_buffer;
  ZSTD_inBuffer m_in{nullptr, 0, 0};
  std::uint64_t m_in_file_offset = 0;
  bool m_input_done = false;
  bool m_frame_started = false;
  std::size_t m_zstd_hint = 0;  // last ZSTD_decompressStream result: 0 = frame complete

  // Decoded record stream: bytes [m_dec_pos, m_dec_end) not yet turned into records;
  // m_dec_base is the stream offset of m_dec_buffer[0].
  std::unique_ptr<unsigned char[]> m_dec_buffer;
  std::size_t m_dec_pos = 0;
  std::size_t m_dec_end = 0;
  std::uint64_t m_dec_base = 0;
  bool m_stream_done = false;
  bool m_finished = false;

  std::uint64_t m_records = 0;           // records decoded so far
  std::uint64_t m_previous_address = 0;  // the delta base of the next record
};

class BinaryTraceWriter final : public TraceWriter {
 public:
  // zstd level 3 (zstd's default): fast, and traces compress well at it. zstd_workers > 0
  // compresses in that many threads of zstd's own, beside the caller's encoding (ignored
  // where libzstd is built without threads); `pagesim trace record` uses level 1 and one
  // worker, to keep up with a tracer.
  explicit BinaryTraceWriter(const std::string& path, int zstd_level = 3, int zstd_workers = 0);

  void write(std::span<const Record> records) override;
  void add_comment(std::string_view) override {}
  void finish() override;

 private:
  void compress(ZSTD_EndDirective directive);
  void write_event(const Record& record);

  OutputFile m_output;
  std::unique_ptr<ZSTD_CCtx, ZstdStreamDeleter> m_cctx;
  std::unique_ptr<unsigned char[]> m_raw;  // encoded records awaiting compression
  std::size_t m_raw_used = 0;
  std::unique_ptr<unsigned char[]> m_compressed;
  std::size_t m_compressed_capacity = 0;
  std::uint64_t m_records = 0;
  std::uint64_t m_previous_address = 0;
  bool m_finished = false;
};

}  // namespace pagesim::traces
