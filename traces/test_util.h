// Helpers for the traces tests: a scratch directory per test, whole-file reads and writes.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "traces/binary_format.h"
#include "traces/record.h"
#include "traces/trace_reader.h"
#include "traces/trace_writer.h"

namespace pagesim::traces {

// gtest prints records this way in failure messages.
inline void PrintTo(const Record& r, std::ostream* os) {
  *os << access_kind_letter(r.kind) << " 0x" << std::hex << r.address << std::dec << " " << r.size;
}

// A fresh directory under the system's temporary directory, removed with its contents.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    static int counter = 0;  // several ScratchDirs in one test get distinct names
    std::string name = "pagesim_traces_" + std::to_string(::getpid()) + "_" +
                       std::to_string(counter++) + "_" +
                       (info ? std::string(info->test_suite_name()) + "_" + info->name() : "x");
    for (char& c : name) {
      if (c == '/') {
        c = '_';
      }
    }
    m_path = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(m_path);
    std::filesystem::create_directories(m_path);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(m_path, ignored);
  }

  std::string file(std::string_view name) const { return (m_path / name).string(); }
  // Names of the files in the directory, sorted.
  std::vector<std::string> list() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(m_path)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path m_path;
};

inline void write_bytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every record of a reader, read in batches of `batch` records.
inline std::vector<Record> read_all(TraceReader& reader, std::size_t batch = 1000) {
  std::vector<Record> all;
  std::vector<Record> buffer(batch);
  while (std::size_t n = reader.read(buffer)) {
    all.insert(all.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return all;
}

inline std::vector<Record> read_all(const std::string& path, std::size_t batch = 1000) {
  auto reader = open_trace(path);
  return read_all(*reader, batch);
}

inline void write_records(const std::string& path, Format format,
                          const std::vector<Record>& records) {
  auto writer = create_writer(path, format);
  writer->write(records);
  writer->finish();
}

// The message of the TraceError that `f` throws, or "" (a test failure) if none.
template <class F>
std::string trace_error_of(F&& f) {
  try {
    f();
  } catch (const TraceError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a TraceError";
  return "";
}

// `value` as `bytes` little-endian bytes (binary header fields).
inline std::string le(std::uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) {
    out += static_cast<char>((value >> (8 * i)) & 0xff);
  }
  return out;
}

inline std::string header(std::uint16_t major, std::uint16_t minor, std::uint32_t flags,
                          std::uint32_t header_bytes, std::uint64_t count) {
  return std::string(reinterpret_cast<const char*>(kBinaryMagic.data()), kBinaryMagic.size()) +
         le(major, 2) + le(minor, 2) + le(flags, 4) + le(header_bytes, 4) + le(0, 4) + le(count, 8);
}

// One zstd frame (with checksum, as the writer makes) holding `payload`.
inline std::string zstd_frame(std::string_view payload) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(payload.size()), '\0');
  const std::size_t n =
      ZSTD_compress2(cctx, out.data(), out.size(), payload.data(), payload.size());
  ZSTD_freeCCtx(cctx);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

inline constexpr AccessKind R = AccessKind::kRead;
inline constexpr AccessKind W = AccessKind::kWrite;
inline constexpr AccessKind X = AccessKind::kFetch;

// The error reading a file named `name` (in a scratch folder) holding `bytes`, with the
// folder cut from the path so expectations need not know it.
inline std::string read_error(const std::string& name, std::string_view bytes) {
  ScratchDir dir;
  const std::string path = dir.file(name);
  write_bytes(path, bytes);
  std::string message = trace_error_of([&] { read_all(path); });
  const std::size_t at = message.find(path);
  if (at != std::string::npos) {
    message.replace(at, path.size(), name);
  }
  return message;
}
inline std::string binary_error(std::string_view bytes) { return read_error("t.pgt", bytes); }
inline std::string parse_error(std::string_view text) { return read_error("t.trace", text); }

// Compresses `path` with the system's `xz` or `gzip` (as ChampSim's traces are made) into
// `path` + ".xz" / ".gz", keeping `path`; returns the new name.
inline std::string compress_file(const std::string& path, const std::string& tool) {
  const std::string out = path + (tool == "xz" ? ".xz" : tool == "zstd" ? ".zst" : ".gz");
  const std::string command = tool + " -q -c -- '" + path + "' > '" + out + "'";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return out;
}

// The records of a text trace holding `text`.
inline std::vector<Record> parse(std::string_view text) {
  ScratchDir dir;
  write_bytes(dir.file("t.trace"), text);
  return read_all(dir.file("t.trace"));
}

}  // namespace pagesim::traces
