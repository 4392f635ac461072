#include "traces/decompressed_input.h"

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <new>
#include <utility>

#include "traces/trace_reader.h"

namespace pagesim::traces {

namespace {

constexpr std::size_t kCompressedBufferBytes = std::size_t{1} << 16;
constexpr std::array<unsigned char, 6> kXzMagic = {0xfd, '7', 'z', 'X', 'Z', 0x00};
constexpr std::array<unsigned char, 2> kGzipMagic = {0x1f, 0x8b};
constexpr std::array<unsigned char, 4> kZstdMagic = {0x28, 0xb5, 0x2f, 0xfd};  // RFC 8878

// Compressions pagesim does not decode, told by their magic so that the error can say
// which (rather than a text trace's "line 1: ..."): bzip2 ("BZh" and the block size),
// lz4's frame format, 7-Zip, zip, lzip, compress(1).
struct ForeignMagic {
  const char* name;
  std::array<unsigned char, 6> magic;
  std::size_t size;
};
constexpr std::array<ForeignMagic, 6> kForeignMagics = {{
    {"bzip2", {'B', 'Z', 'h'}, 3},
    {"lz4", {0x04, 0x22, 0x4d, 0x18}, 4},
    {"7-Zip", {'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}, 6},
    {"zip", {'P', 'K', 0x03, 0x04}, 4},
    {"lzip", {'L', 'Z', 'I', 'P'}, 4},
    {"compress (.Z)", {0x1f, 0x9d}, 2},
}};

template <std::size_t N>
bool starts_with(const unsigned char* bytes, std::size_t size,
                 const std::array<unsigned char, N>& magic) {
  return size >= N && std::equal(magic.begin(), magic.end(), bytes);
}

const char* lzma_error_name(lzma_ret ret) {
  switch (ret) {
    case LZMA_MEM_ERROR:
      return "out of memory (LZMA_MEM_ERROR)";
    case LZMA_MEMLIMIT_ERROR:
      return "the stream needs more than 512 MiB of decoder memory (LZMA_MEMLIMIT_ERROR)";
    case LZMA_FORMAT_ERROR:
      return "not xz data (LZMA_FORMAT_ERROR)";
    case LZMA_OPTIONS_ERROR:
      return "unsupported xz options (LZMA_OPTIONS_ERROR)";
    case LZMA_DATA_ERROR:
      return "corrupt compressed data (LZMA_DATA_ERROR)";
    case LZMA_BUF_ERROR:
      return "truncated: the file ends inside the compressed data";
    default:
      return "xz decoder error";
  }
}

}  // namespace

std::string_view compression_name(Compression compression) {
  switch (compression) {
    case Compression::kXz:
      return "xz";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
    case Compression::kNone:
      break;
  }
  return "none";
}

// One decoder: pulls compressed bytes from the file, hands out decompressed ones.
class DecompressedInput::Decoder {
 public:
  explicit Decoder(InputFile& input)
      : m_input(input), m_buffer(new unsigned char[kCompressedBufferBytes]) {}
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  virtual ~Decoder() = default;
  virtual std::size_t read(unsigned char* dst, std::size_t size) = 0;

 protected:
  // Reads the next chunk of the file; returns its size (0 at the end).
  std::size_t refill() {
    m_chunk_offset = m_input.offset();
    m_chunk_size = m_input.read(m_buffer.get(), kCompressedBufferBytes);
    m_input_done = m_chunk_size < kCompressedBufferBytes;
    return m_chunk_size;
  }
  // `what` at the compressed byte the decoder stands on (`unread` bytes of the chunk left).
  [[noreturn]] void fail(std::size_t unread, const char* format, const std::string& what) const {
    throw TraceError(m_input.path() + ": byte " +
                     std::to_string(m_chunk_offset + (m_chunk_size - unread)) + " (" + format +
                     " data): " + what);
  }

  InputFile& m_input;
  std::unique_ptr<unsigned char[]> m_buffer;
  std::uint64_t m_chunk_offset = 0;  // file offset of m_buffer[0]
  std::size_t m_chunk_size = 0;
  bool m_input_done = false;
};

namespace {

class XzDecoder final : public DecompressedInput::Decoder {
 public:
  explicit XzDecoder(InputFile& input) : Decoder(input) {
    // LZMA_CONCATENATED: several .xz streams one after another, as `xz -dc` reads them.
    const lzma_ret ret = lzma_stream_decoder(&m_stream, kMaxXzMemoryBytes, LZMA_CONCATENATED);
    if (ret != LZMA_OK) {
      throw std::bad_alloc();
    }
  }
  ~XzDecoder() override { lzma_end(&m_stream); }

  std::size_t read(unsigned char* dst, std::size_t size) override {
    m_stream.next_out = dst;
    m_stream.avail_out = size;
    while (m_stream.avail_out > 0 && !m_done) {
      if (m_stream.avail_in == 0 && !m_input_done) {
        m_stream.avail_in = refill();
        m_stream.next_in = m_buffer.get();
      }
      const lzma_action action = m_stream.avail_in == 0 && m_input_done ? LZMA_FINISH : LZMA_RUN;
      const lzma_ret ret = lzma_code(&m_stream, action);
      if (ret == LZMA_STREAM_END) {
        m_done = true;
      } else if (ret != LZMA_OK) {
        fail(m_stream.avail_in, "xz", lzma_error_name(ret));
      }
    }
    return size - m_stream.avail_out;
  }

 private:
  lzma_stream m_stream = LZMA_STREAM_INIT;
  bool m_done = false;
};

class GzipDecoder final : public DecompressedInput::Decoder {
 public:
  explicit GzipDecoder(InputFile& input) : Decoder(input) {
    // 16 + MAX_WBITS: a gzip header and trailer (RFC 1952), not a bare zlib stream.
    if (inflateInit2(&m_stream, 16 + MAX_WBITS) != Z_OK) {
      throw std::bad_alloc();
    }
  }
  ~GzipDecoder() override { inflateEnd(&m_stream); }

  std::size_t read(unsigned char* dst, std::size_t size) override {
    m_stream.next_out = dst;
    m_stream.avail_out = static_cast<uInt>(size);
    while (m_stream.avail_out > 0) {
      if (m_stream.avail_in == 0 && !m_input_done) {
        m_stream.avail_in = static_cast<uInt>(refill());
        m_stream.next_in = m_buffer.get();
      }
      if (!m_in_member) {
        if (m_stream.avail_in == 0) {
          break;  // the end of the last member and of the file
        }
        // Another member follows (gzip -dc reads concatenated members); anything else
        // after the data is damage.
        if (m_stream.next_in[0] != 0x1f) {
          fail(m_stream.avail_in, "gzip", "garbage after the end of the gzip data");
        }
        inflateReset(&m_stream);
        m_in_member = true;
      }
      const int ret = inflate(&m_stream, Z_NO_FLUSH);
      if (ret == Z_STREAM_END) {
        m_in_member = false;
      } else if (ret == Z_BUF_ERROR) {
        // No progress: zlib needs more input.
        if (m_stream.avail_in == 0 && m_input_done) {
          fail(0, "gzip", "truncated: the file ends inside the compressed data");
        }
      } else if (ret != Z_OK) {
        fail(m_stream.avail_in, "gzip",
             std::string("corrupt compressed data (") +
                 (m_stream.msg != nullptr ? m_stream.msg : "zlib error") + ")");
      }
    }
    return size - m_stream.avail_out;
  }

 private:
  z_stream m_stream{};
  bool m_in_member = false;
};

class ZstdDecoder final : public DecompressedInput::Decoder {
 public:
  explicit ZstdDecoder(InputFile& input) : Decoder(input), m_stream(ZSTD_createDStream()) {
    if (m_stream == nullptr) {
      throw std::bad_alloc();
    }
  }
  ~ZstdDecoder() override { ZSTD_freeDStream(m_stream); }

  std::size_t read(unsigned char* dst, std::size_t size) override {
    ZSTD_outBuffer out{dst, size, 0};
    while (out.pos < out.size) {
      if (m_in.pos == m_in.size) {
        if (m_input_done) {
          if (m_frame_open) {
            fail(0, "zstd", "truncated: the file ends inside the compressed data");
          }
          break;
        }
        m_in = ZSTD_inBuffer{m_buffer.get(), refill(), 0};
        continue;
      }
      // Frames one after another are decoded in turn, as `zstd -dc` reads them.
      const std::size_t ret = ZSTD_decompressStream(m_stream, &out, &m_in);
      if (ZSTD_isError(ret)) {
        fail(m_in.size - m_in.pos, "zstd",
             std::string("corrupt compressed data (") + ZSTD_getErrorName(ret) + ")");
      }
      m_frame_open = ret != 0;  // 0: a frame ended and everything of it is out
    }
    return out.pos;
  }

 private:
  ZSTD_DStream* m_stream;
  ZSTD_inBuffer m_in{nullptr, 0, 0};
  bool m_frame_open = false;
};

}  // namespace

DecompressedInput::DecompressedInput(InputFile input) : m_input(std::move(input)) {
  unsigned char first[kXzMagic.size()];
  const std::size_t got = m_input.read(first, sizeof first);
  m_input.unread(first, got);
  if (starts_with(first, got, kXzMagic)) {
    m_compression = Compression::kXz;
    m_decoder = std::make_unique<XzDecoder>(m_input);
  } else if (starts_with(first, got, kGzipMagic)) {
    m_compression = Compression::kGzip;
    m_decoder = std::make_unique<GzipDecoder>(m_input);
  } else if (starts_with(first, got, kZstdMagic)) {
    m_compression = Compression::kZstd;
    m_decoder = std::make_unique<ZstdDecoder>(m_input);
  } else {
    for (const ForeignMagic& f : kForeignMagics) {
      if (got >= f.size && std::equal(f.magic.begin(), f.magic.begin() + f.size, first)) {
        throw TraceError(m_input.path() + ": " + f.name +
                         "-compressed input, which pagesim does not read (it reads xz, gzip "
                         "and zstd): decompress it first");
      }
    }
  }
}

DecompressedInput::~DecompressedInput() = default;

std::size_t DecompressedInput::read(void* dst, std::size_t size) {
  const std::size_t n =
      m_decoder ? m_decoder->read(static_cast<unsigned char*>(dst), size) : m_input.read(dst, size);
  m_offset += n;
  return n;
}

}  // namespace pagesim::traces
