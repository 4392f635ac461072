// An input file read through its decompressor when it is xz, gzip or zstd compressed, as
// ChampSim and other tools distribute their traces (`*.champsimtrace.xz`, `*.csv.gz`,
// `*.trace.zst`); plain bytes otherwise. Text traces and every importer read their files
// through it, so all of them take compressed input.
//
// The compression is told by the first bytes, not the name: xz's magic FD 37 7A 58 5A 00,
// gzip's 1F 8B, zstd's 28 B5 2F FD. A compression it does not decode (bzip2, lz4, 7-Zip,
// zip, lzip, compress) is an error naming it. liblzma, zlib and libzstd decode in the
// process (Debian's liblzma-dev, zlib1g-dev, libzstd-dev):
// no child process, and a damaged stream is an error naming the file and the compressed byte
// where the decoder noticed it:
//
//   t.champsim.xz: byte 4096 (xz data): corrupt compressed data (LZMA_DATA_ERROR)
//   t.csv.gz: byte 37 (gzip data): truncated: the file ends inside the compressed data
//
// Concatenated xz streams and gzip members are read one after another, as `xz -dc` and
// `gzip -dc` do. Memory: two 64 KiB buffers plus the decoder's window (xz: at most
// kMaxXzMemoryBytes; a file asking for more is refused).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "traces/file_io.h"

namespace pagesim::traces {

enum class Compression { kNone, kXz, kGzip, kZstd };

// "none", "xz", "gzip", "zstd".
std::string_view compression_name(Compression compression);

// The memory an xz stream's decoder may use (its dictionary); xz -9 needs 65 MiB.
inline constexpr std::uint64_t kMaxXzMemoryBytes = std::uint64_t{512} << 20;

class DecompressedInput {
 public:
  // Sniffs the first bytes of `input` to pick the decoder.
  explicit DecompressedInput(InputFile input);
  // Not movable: the decoder holds on to the file.
  DecompressedInput(const DecompressedInput&) = delete;
  DecompressedInput& operator=(const DecompressedInput&) = delete;
  ~DecompressedInput();

  // Reads up to `size` decompressed bytes; fewer only at the end of the data (0 after it).
  // Throws TraceError naming the file and the compressed byte offset on damaged data.
  std::size_t read(void* dst, std::size_t size);

  const std::string& path() const { return m_input.path(); }
  Compression compression() const { return m_compression; }
  // Decompressed bytes returned so far.
  std::uint64_t offset() const { return m_offset; }

  class Decoder;  // the xz or gzip state (decompressed_input.cc)

 private:
  InputFile m_input;
  Compression m_compression = Compression::kNone;
  std::unique_ptr<Decoder> m_decoder;
  std::uint64_t m_offset = 0;
};

}  // namespace pagesim::traces
