#include "traces/binary_format.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace pagesim::traces {

namespace {

constexpr std::size_t kCompressedBufferBytes = std::size_t{1} << 17;
constexpr std::size_t kDecodedBufferBytes = std::size_t{1} << 18;
constexpr std::size_t kRawBufferBytes = std::size_t{1} << 18;

constexpr unsigned kKindMask = 0x03;
constexpr unsigned kSizeCodeShift = 2;
constexpr unsigned kSizeCodeMask = 0x1c;
constexpr unsigned kSizeEscape = 7;
constexpr unsigned kReservedTagBits = 0xe0;
// Kind 3 marks an event (format 1.1); bits 2-7 of its tag are the EventOp.
constexpr unsigned kEventKind = 3;
constexpr unsigned kEventOpShift = 2;
constexpr std::uint64_t kMaxEventFlags = 0xffff;

// The minor version of format 1 that defined an event op: kCpu came in 1.2, every other op
// in 1.1 (the first with events).
constexpr std::uint16_t event_op_minor_version(unsigned op) {
  return op == static_cast<unsigned>(EventOp::kCpu) ? 2 : 1;
}

// Size in bytes for each tag; 0 for a tag the fast path does not handle (invalid kind,
// reserved bits, size escape).
constexpr std::array<std::uint32_t, 256> make_tag_sizes() {
  std::array<std::uint32_t, 256> sizes{};
  for (unsigned tag = 0; tag < 256; ++tag) {
    unsigned code = (tag & kSizeCodeMask) >> kSizeCodeShift;
    bool valid = (tag & kKindMask) != 3 && (tag & kReservedTagBits) == 0 && code != kSizeEscape;
    sizes[tag] = valid ? (1u << code) : 0;
  }
  return sizes;
}
constexpr std::array<std::uint32_t, 256> kTagSize = make_tag_sizes();

std::string hex_byte(unsigned byte) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", byte & 0xffu);
  return text;
}

std::uint64_t zigzag_encode(std::uint64_t delta) {
  auto d = static_cast<std::int64_t>(delta);
  return (delta << 1) ^ static_cast<std::uint64_t>(d >> 63);
}

std::uint64_t zigzag_decode(std::uint64_t z) { return (z >> 1) ^ (~(z & 1) + 1); }

unsigned char* put_varint(unsigned char* p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<unsigned char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<unsigned char>(v);
  return p;
}

void put_le(unsigned char* p, std::uint64_t v, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i) {
    p[i] = static_cast<unsigned char>(v >> (8 * i));
  }
}

std::uint64_t get_le(const unsigned char* p, std::size_t bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i) {
    v |= std::uint64_t{p[i]} << (8 * i);
  }
  return v;
}

// The fast path: one record from p, which has at least kMaxEncodedAccessBytes readable.
// Returns the byte after it, or nullptr when the record is not a plain valid access (an
// event, a size escape, an invalid tag, an address varint longer than 8 bytes);
// decode_checked() then takes over.
//
// The varint is decoded without a branch per byte: the 8 bytes after the tag are loaded as
// one little-endian word; the first byte with a clear top bit ends the varint, and three
// shift-and-mask steps pack the 7-bit groups together. Random addresses have varints of
// random length, which a byte loop would mispredict on nearly every record.
inline const unsigned char* decode_fast(const unsigned char* p, std::uint64_t& previous_address,
                                        Record& record) {
  static_assert(std::endian::native == std::endian::little, "the word load assumes x86 order");
  const unsigned tag = *p;
  const std::uint32_t size = kTagSize[tag];
  if (size == 0) {
    return nullptr;
  }
  std::uint64_t word;
  std::memcpy(&word, p + 1, sizeof word);
  if ((word & 0x80) == 0) {  // a 1-byte varint: |delta| < 64, as in sweeps and loops
    previous_address += zigzag_decode(word & 0x7f);
    record = Record{previous_address, size, static_cast<AccessKind>(tag & kKindMask)};
    return p + 2;
  }
  const std::uint64_t stops = ~word & 0x8080808080808080ULL;  // bytes that end a varint
  if (stops == 0) {
    return nullptr;  // 9 or 10 bytes (deltas of 2^55 or more)
  }
  // All bits up to the top bit of the first ending byte: exactly the varint's bytes.
  std::uint64_t z = word & (stops ^ (stops - 1));
  z = ((z & 0x7f007f007f007f00ULL) >> 1) | (z & 0x007f007f007f007fULL);
  z = ((z & 0x3fff00003fff0000ULL) >> 2) | (z & 0x00003fff00003fffULL);
  z = ((z & 0x0fffffff00000000ULL) >> 4) | (z & 0x000000000fffffffULL);
  previous_address += zigzag_decode(z);
  record = Record{previous_address, size, static_cast<AccessKind>(tag & kKindMask)};
  return p + 2 + (std::countr_zero(stops) >> 3);
}

}  // namespace

bool has_binary_magic(std::span<const unsigned char> bytes) {
  return bytes.size() >= kBinaryMagic.size() &&
         std::equal(kBinaryMagic.begin(), kBinaryMagic.end(), bytes.begin());
}

// ---------------------------------------------------------------------------------------
// Reader

BinaryTraceReader::BinaryTraceReader(InputFile input)
    : m_input(std::move(input)),
      m_in_buffer(new unsigned char[kCompressedBufferBytes]),
      m_dec_buffer(new unsigned char[kDecodedBufferBytes]) {
  read_header();
  m_dstream.reset(ZSTD_createDStream());
  if (m_dstream == nullptr) {
    throw std::bad_alloc();
  }
  // The default window limit (2^27 bytes) bounds the memory a damaged frame can ask for.
  ZSTD_initDStream(m_dstream.get());
  m_in.src = m_in_buffer.get();
  m_in_file_offset = m_input.offset();
}

void BinaryTraceReader::fail_at(std::uint64_t offset, const std::string& what) const {
  throw TraceError(m_input.path() + ": byte " + std::to_string(offset) + ": " + what);
}

void BinaryTraceReader::fail_in_record(const std::string& what) const {
  fail_at(compressed_offset(), "record " + std::to_string(m_records) + " (decoded byte " +
                                   std::to_string(m_dec_base + m_dec_pos) + "): " + what);
}

void BinaryTraceReader::read_header() {
  unsigned char header[kBinaryHeaderBytes];
  std::size_t got = m_input.read(header, sizeof header);
  // The first byte that differs from the magic, within what the file has.
  std::size_t magic_checked = std::min(got, kBinaryMagic.size());
  for (std::size_t i = 0; i < magic_checked; ++i) {
    if (header[i] != kBinaryMagic[i]) {
      fail_at(i, "bad magic: not a pagesim binary trace");
    }
  }
  if (got < kBinaryHeaderBytes) {
    fail_at(got, "truncated header: the file ends after " + std::to_string(got) + " of " +
                     std::to_string(kBinaryHeaderBytes) + " header bytes");
  }
  m_major = static_cast<std::uint16_t>(get_le(header + kHeaderMajorOffset, 2));
  m_minor = static_cast<std::uint16_t>(get_le(header + kHeaderMinorOffset, 2));
  const std::string version = std::to_string(m_major) + "." + std::to_string(m_minor);
  if (m_major > kBinaryMajorVersion) {
    fail_at(kHeaderMajorOffset,
            "format version " + version + " is newer than this reader understands (" +
                std::to_string(kBinaryMajorVersion) + ".x): use a newer pagesim");
  }
  if (m_major < kBinaryMajorVersion) {
    fail_at(kHeaderMajorOffset, "format version " + version + " is not a valid version");
  }
  auto flags = static_cast<std::uint32_t>(get_le(header + kHeaderFlagsOffset, 4));
  if (flags != 0) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", flags);
    fail_at(kHeaderFlagsOffset, std::string("unknown flags ") + hex + " (version " + version +
                                    "; this reader knows none)");
  }
  auto header_bytes = static_cast<std::uint32_t>(get_le(header + kHeaderBytesOffset, 4));
  if (header_bytes < kBinaryHeaderBytes || header_bytes > kMaxBinaryHeaderBytes) {
    fail_at(kHeaderBytesOffset, "header size " + std::to_string(header_bytes) + " is outside 32.." +
                                    std::to_string(kMaxBinaryHeaderBytes));
  }
  m_header_record_count = get_le(header + kHeaderRecordCountOffset, 8);
  // A later minor version's header extension: skip it.
  std::size_t extra = header_bytes - kBinaryHeaderBytes;
  while (extra > 0) {
    std::size_t chunk = std::min(extra, kCompressedBufferBytes);
    std::size_t skipped = m_input.read(m_in_buffer.get(), chunk);
    if (skipped < chunk) {
      fail_at(m_input.offset(), "truncated header: the header size field says " +
                                    std::to_string(header_bytes) + " bytes");
    }
    extra -= chunk;
  }
}

std::string BinaryTraceReader::describe() const {
  std::string text =
      m_input.path() + " (binary trace v" + std::to_string(m_major) + "." + std::to_string(m_minor);
  if (m_header_record_count != 0) {
    text += ", " + std::to_string(m_header_record_count) + " records";
  }
  return text + ")";
}

std::optional<std::uint64_t> BinaryTraceReader::record_count() const {
  if (m_header_record_count == 0) {
    return std::nullopt;
  }
  return m_header_record_count;
}

void BinaryTraceReader::fill_decoded() {
  const std::size_t tail = m_dec_end - m_dec_pos;
  std::memmove(m_dec_buffer.get(), m_dec_buffer.get() + m_dec_pos, tail);
  m_dec_base += m_dec_pos;
  m_dec_pos = 0;
  ZSTD_outBuffer out{m_dec_buffer.get(), kDecodedBufferBytes, tail};
  while (out.pos < out.size && !m_stream_done) {
    if (m_in.pos == m_in.size && !m_input_done) {
      m_in_file_offset = m_input.offset();
      m_in.size = m_input.read(m_in_buffer.get(), kCompressedBufferBytes);
      m_in.pos = 0;
      m_input_done = m_in.size < kCompressedBufferBytes;
    }
    if (m_in.pos == m_in.size) {
      // No input left: the data ends here, complete or not.
      if (!m_frame_started) {
        fail_at(compressed_offset(), "no compressed data after the header (file truncated?)");
      }
      if (m_zstd_hint == 0) {
        m_stream_done = true;
        break;
      }
      // zstd may still hold decoded bytes it could not flush into a full buffer earlier.
      const std::size_t before = out.pos;
      const std::size_t hint = ZSTD_decompressStream(m_dstream.get(), &out, &m_in);
      if (ZSTD_isError(hint)) {
        fail_at(compressed_offset(),
                std::string("corrupt compressed data: ") + ZSTD_getErrorName(hint));
      }
      m_zstd_hint = hint;
      if (out.pos == before && hint != 0) {
        fail_at(compressed_offset(), "truncated: the file ends inside a zstd frame (" +
                                         std::to_string(m_records) + " records read)");
      }
      continue;
    }
    const std::size_t hint = ZSTD_decompressStream(m_dstream.get(), &out, &m_in);
    if (ZSTD_isError(hint)) {
      fail_at(compressed_offset(),
              std::string("corrupt compressed data: ") + ZSTD_getErrorName(hint));
    }
    m_frame_started = true;
    m_zstd_hint = hint;
  }
  m_dec_end = out.pos;
}

void BinaryTraceReader::decode_checked(Record& record) {
  const unsigned char* p = m_dec_buffer.get() + m_dec_pos;
  const unsigned char* const end = m_dec_buffer.get() + m_dec_end;
  auto need = [&](const char* what) {
    if (p == end) {
      fail_in_record(std::string("the stream ends in the middle of a record (") + what + ")");
    }
  };
  need("tag");
  const unsigned tag = *p++;
  // A plain varint: at most `max_bytes` bytes and a value of at most `max_value`.
  auto varint = [&](const char* what, unsigned max_bytes, std::uint64_t max_value) {
    std::uint64_t v = 0;
    for (unsigned i = 0;; ++i) {
      need(what);
      const std::uint64_t b = *p++;
      if (i == 9 && b > 1) {
        fail_in_record(std::string("garbage ") + what + " varint: more than 64 bits");
      }
      v |= (b & 0x7f) << (7 * i);
      if (b < 0x80) {
        break;
      }
      if (i + 1 == max_bytes) {
        fail_in_record(std::string("garbage ") + what + " varint: longer than " +
                       std::to_string(max_bytes) + " bytes");
      }
    }
    if (v > max_value) {
      fail_in_record(std::string(what) + " " + std::to_string(v) + " is out of range");
    }
    return v;
  };
  if ((tag & kKindMask) == kEventKind) {
    // An event: tag, flags varint, then the op's arguments as plain varints. Events do not
    // take part in the address delta chain.
    const unsigned op = tag >> kEventOpShift;
    // The version the file is read as: the header's, or this reader's if the header's is
    // newer (a lambda: built only for an error, never per event).
    auto read_as = [&] {
      return "1." + std::to_string(std::min<std::uint16_t>(m_minor, kBinaryMinorVersion));
    };
    if (op == 0 || op > kLastEventOp) {
      fail_in_record("tag " + hex_byte(tag) + ": event op " + std::to_string(op) +
                     " is not defined in format " + read_as() +
                     (op == 0 ? "" : " (written by a newer pagesim?)"));
    }
    if (m_minor < 1) {
      fail_in_record("tag " + hex_byte(tag) + ": an event record, but the header says version " +
                     std::to_string(m_major) + "." + std::to_string(m_minor) +
                     ", which has no events");
    }
    if (m_minor < event_op_minor_version(op)) {
      // A writer of 1.1 never wrote this op: the file is damaged.
      fail_in_record("tag " + hex_byte(tag) + ": event op " + std::to_string(op) + " ('" +
                     std::string(event_name(static_cast<EventOp>(op))) +
                     "') is not defined in format " + read_as() + ", the header's version (it " +
                     "came in 1." + std::to_string(event_op_minor_version(op)) + ")");
    }
    Record event = Record::event(static_cast<EventOp>(op));
    event.flags = static_cast<std::uint16_t>(varint("event flags", 3, kMaxEventFlags));
    const unsigned args = event_arg_count(event.op);
    std::uint64_t* const slots[3] = {&event.address, &event.arg1, &event.arg2};
    static constexpr const char* kArgNames[3] = {"event argument 0", "event argument 1",
                                                 "event argument 2"};
    for (unsigned i = 0; i < args; ++i) {
      *slots[i] = varint(kArgNames[i], 10, std::numeric_limits<std::uint64_t>::max());
    }
    if (const char* wrong = check_event(event)) {
      fail_in_record(std::string("event '") + std::string(event_name(event.op)) + "': " + wrong);
    }
    record = event;
    m_dec_pos = static_cast<std::size_t>(p - m_dec_buffer.get());
    ++m_records;
    return;
  }
  if ((tag & kReservedTagBits) != 0) {
    fail_in_record("tag " + hex_byte(tag) + ": reserved bits 5-7 are set");
  }
  std::uint64_t z = 0;
  for (unsigned i = 0;; ++i) {
    need("address");
    const std::uint64_t b = *p++;
    if (i == 9 && b > 1) {
      fail_in_record("garbage address varint: more than 64 bits");
    }
    z |= (b & 0x7f) << (7 * i);
    if (b < 0x80) {
      break;
    }
  }
  const unsigned code = (tag & kSizeCodeMask) >> kSizeCodeShift;
  std::uint64_t size = 1u << code;
  if (code == kSizeEscape) {
    size = 0;
    for (unsigned i = 0;; ++i) {
      need("size");
      const std::uint64_t b = *p++;
      size |= (b & 0x7f) << (7 * i);
      if (b < 0x80) {
        break;
      }
      if (i == 4) {
        fail_in_record("garbage size varint: longer than 5 bytes");
      }
    }
    if (size == 0 || size > std::numeric_limits<std::uint32_t>::max()) {
      fail_in_record("size " + std::to_string(size) + " is outside 1..4294967295");
    }
  }
  m_previous_address += zigzag_decode(z);
  record = Record{m_previous_address, static_cast<std::uint32_t>(size),
                  static_cast<AccessKind>(tag & kKindMask)};
  m_dec_pos = static_cast<std::size_t>(p - m_dec_buffer.get());
  ++m_records;
}

void BinaryTraceReader::check_record_count() {
  m_finished = true;
  if (m_header_record_count != 0 && m_records != m_header_record_count) {
    fail_at(compressed_offset(), "the header says " + std::to_string(m_header_record_count) +
                                     " records but the stream holds " + std::to_string(m_records));
  }
}

std::size_t BinaryTraceReader::read(std::span<Record> out) {
  std::size_t n = 0;
  const std::size_t capacity = out.size();
  Record* const records = out.data();
  while (n < capacity && !m_finished) {
    if (m_dec_end - m_dec_pos < kMaxEncodedRecordBytes && !m_stream_done) {
      fill_decoded();
      continue;
    }
    // Fast path: every record here has kMaxEncodedRecordBytes readable after its start.
    if (m_dec_end - m_dec_pos >= kMaxEncodedRecordBytes) {
      const unsigned char* const base = m_dec_buffer.get();
      const unsigned char* p = base + m_dec_pos;
      const unsigned char* const last_start = base + m_dec_end - kMaxEncodedRecordBytes;
      std::uint64_t previous = m_previous_address;
      const std::size_t first = n;
      while (n < capacity && p <= last_start) {
        const unsigned char* next = decode_fast(p, previous, records[n]);
        if (next == nullptr) {
          break;
        }
        p = next;
        ++n;
      }
      m_previous_address = previous;
      m_records += n - first;
      m_dec_pos = static_cast<std::size_t>(p - base);
      if (n == capacity) {
        break;
      }
      if (p <= last_start) {
        decode_checked(records[n++]);  // an escape or an error, with its message
      }
      continue;
    }
    // The last few bytes of the stream.
    if (m_dec_pos == m_dec_end) {
      check_record_count();
      break;
    }
    decode_checked(records[n++]);
  }
  return n;
}

// ---------------------------------------------------------------------------------------
// Writer

BinaryTraceWriter::BinaryTraceWriter(const std::string& path, int zstd_level, int zstd_workers)
    : m_output(path),
      m_raw(new unsigned char[kRawBufferBytes]),
      m_compressed_capacity(ZSTD_CStreamOutSize()) {
  m_compressed.reset(new unsigned char[m_compressed_capacity]);
  m_cctx.reset(ZSTD_createCCtx());
  if (m_cctx == nullptr) {
    throw std::bad_alloc();
  }
  ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_compressionLevel, zstd_level);
  // The frame checksum lets a reader detect corrupted data at the end of the frame.
  ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_checksumFlag, 1);
  if (zstd_workers > 0) {
    // An error here means a libzstd without threads: compress in this thread then.
    ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_nbWorkers, zstd_workers);
  }

  unsigned char header[kBinaryHeaderBytes] = {};
  std::copy(kBinaryMagic.begin(), kBinaryMagic.end(), header);
  put_le(header + kHeaderMajorOffset, kBinaryMajorVersion, 2);
  put_le(header + kHeaderMinorOffset, kBinaryMinorVersion, 2);
  put_le(header + kHeaderBytesOffset, kBinaryHeaderBytes, 4);
  // Record count 0 ("unknown") until finish() knows it.
  m_output.write(header, sizeof header);
}

void BinaryTraceWriter::compress(ZSTD_EndDirective directive) {
  ZSTD_inBuffer in{m_raw.get(), m_raw_used, 0};
  while (true) {
    ZSTD_outBuffer out{m_compressed.get(), m_compressed_capacity, 0};
    const std::size_t remaining = ZSTD_compressStream2(m_cctx.get(), &out, &in, directive);
    if (ZSTD_isError(remaining)) {
      throw TraceError(m_output.path() + ": cannot compress: " + ZSTD_getErrorName(remaining));
    }
    m_output.write(m_compressed.get(), out.pos);
    const bool done = directive == ZSTD_e_continue ? in.pos == in.size : remaining == 0;
    if (done) {
      break;
    }
  }
  m_raw_used = 0;
}

void BinaryTraceWriter::write(std::span<const Record> records) {
  if (m_finished) {
    throw std::logic_error("BinaryTraceWriter::write after finish");
  }
  unsigned char* const raw = m_raw.get();
  for (const Record& r : records) {
    if (kRawBufferBytes - m_raw_used < kMaxEncodedRecordBytes) {
      compress(ZSTD_e_continue);
    }
    if (r.is_event()) {
      write_event(r);
      continue;
    }
    if (r.size == 0) {
      throw TraceError(m_output.path() + ": cannot write record " + std::to_string(m_records) +
                       ": size 0 (an access has at least 1 byte)");
    }
    unsigned char* p = raw + m_raw_used;
    const bool power_of_two_size = (r.size & (r.size - 1)) == 0 && r.size <= 64;
    const unsigned code =
        power_of_two_size ? static_cast<unsigned>(std::countr_zero(r.size)) : kSizeEscape;
    *p++ = static_cast<unsigned char>(static_cast<unsigned>(r.kind) | (code << kSizeCodeShift));
    p = put_varint(p, zigzag_encode(r.address - m_previous_address));
    if (code == kSizeEscape) {
      p = put_varint(p, r.size);
    }
    m_previous_address = r.address;
    m_raw_used = static_cast<std::size_t>(p - raw);
    ++m_records;
  }
}

void BinaryTraceWriter::write_event(const Record& r) {
  if (const char* wrong = check_event(r)) {
    throw TraceError(m_output.path() + ": cannot write record " + std::to_string(m_records) +
                     ": event '" + std::string(event_name(r.op)) + "' (op " +
                     std::to_string(static_cast<unsigned>(r.op)) + "): " + wrong);
  }
  unsigned char* const raw = m_raw.get();
  unsigned char* p = raw + m_raw_used;
  *p++ = static_cast<unsigned char>(kEventKind | (static_cast<unsigned>(r.op) << kEventOpShift));
  p = put_varint(p, r.flags);
  const std::uint64_t args[3] = {r.address, r.arg1, r.arg2};
  for (unsigned i = 0; i < event_arg_count(r.op); ++i) {
    p = put_varint(p, args[i]);
  }
  // The delta base (m_previous_address) stays the last access's address.
  m_raw_used = static_cast<std::size_t>(p - raw);
  ++m_records;
}

void BinaryTraceWriter::finish() {
  if (m_finished) {
    throw std::logic_error("BinaryTraceWriter::finish twice");
  }
  compress(ZSTD_e_end);
  if (m_output.seekable()) {
    unsigned char count[8];
    put_le(count, m_records, 8);
    m_output.write_at(kHeaderRecordCountOffset, count, sizeof count);
  }
  m_output.commit();
  m_finished = true;
}

}  // namespace pagesim::traces
