// The qemu plugin's raw stream (qemu_plugin/pagesim_stream.h), written by hand here.
#include "traces/qemu_stream_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "traces/test_util.h"

namespace pagesim::traces {
namespace {

std::string word(std::uint64_t w) { return le(w, 8); }
constexpr std::uint64_t kSize = std::uint64_t{1} << 56;  // size field unit
constexpr std::uint64_t kKind = std::uint64_t{1} << 62;  // kind field unit
const std::string kMagic = "PGSIMQ1\n";                  // version 1: no vCPU notes
const std::string kMagic2 = "PGSIMQ2\n";                 // version 2, what the plugin writes
// A vCPU note: escape word, size 0, low bits 1, the vCPU index from bit 8.
std::string vcpu(std::uint64_t index) { return word(3 * kKind + (index << 8) + 1); }

std::vector<Record> read_stream(const std::string& bytes, std::size_t batch = 1000) {
  ScratchDir dir;
  write_bytes(dir.file("s"), bytes);
  QemuStreamReader reader(InputFile(dir.file("s")));
  return read_all(reader, batch);
}

std::string stream_error(const std::string& bytes) {
  ScratchDir dir;
  write_bytes(dir.file("s"), bytes);
  QemuStreamReader reader(InputFile(dir.file("s")));
  std::string message = trace_error_of([&] { read_all(reader); });
  return message.substr(message.find("s: ") + 3);
}

TEST(QemuStream, WordsBecomeRecords) {
  const std::string bytes = kMagic + word(8 * kSize + 0x1000) +                  // R 8
                            word(4 * kSize + 1 * kKind + 0x7ffff000) +           // W 4
                            word(15 * kSize + 2 * kKind + 0x401000) +            // X 15
                            word(2 * kSize + 3 * kKind + 1) + word(1ull << 63);  // escape: W 2
  const std::vector<Record> expected = {
      {0x1000, 8, R}, {0x7ffff000, 4, W}, {0x401000, 15, X}, {std::uint64_t{1} << 63, 2, W}};
  for (std::size_t batch : {1, 2, 3, 1000}) {
    EXPECT_EQ(read_stream(bytes, batch), expected) << batch;
  }
  EXPECT_EQ(read_stream(kMagic), std::vector<Record>{});
}

// A note (escape word, size 0, low bits 3) and its signed value: processes not recorded.
TEST(QemuStream, NotesCountTheProcessesLeftOutAndMakeNoRecord) {
  const std::string note = word(3 * kKind + 3);
  const std::string bytes = kMagic + word(8 * kSize + 0x1000) + note + word(1) +  // a fork
                            note + word(1) + note + word(~std::uint64_t{0}) +     // exec failed
                            word(8 * kSize + 0x2000) + note + word(1);            // an exec
  for (std::size_t batch : {1, 2, 1000}) {
    ScratchDir dir;
    write_bytes(dir.file("s"), bytes);
    QemuStreamReader reader(InputFile(dir.file("s")));
    EXPECT_EQ(read_all(reader, batch), (std::vector<Record>{{0x1000, 8, R}, {0x2000, 8, R}}));
    EXPECT_EQ(reader.unrecorded_processes(), 2) << batch;
  }
  EXPECT_EQ(stream_error(kMagic + note),
            "byte 8: truncated: the stream ends after a note, "
            "before its value");
}

TEST(QemuStream, VcpuNotesBecomeCpuEventsAtEachChange) {
  // Blocks of vCPUs 0, 1, 1 (two flushes of one thread), 0, 2: `!cpu` where the vCPU
  // changes, none for the first block of vCPU 0 (a trace starts on CPU 0), none between two
  // blocks of vCPU 1. Notes and markers inside a block are unaffected.
  const std::string bytes = kMagic2 + vcpu(0) + word(8 * kSize + 0x1000) +              //
                            vcpu(1) + word(8 * kSize + 0x2000) +                        //
                            vcpu(1) + word(3 * kKind + 3) + word(1) +                   // a fork
                            word(4 * kSize + 1 * kKind + 0x2008) +                      //
                            vcpu(0) + word(8 * kSize + 0x1008) + word(3 * kKind + 2) +  // marker
                            vcpu(2) + word(8 * kSize + 0x3000);
  const std::vector<Record> expected = {
      {0x1000, 8, R},
      Record::event(EventOp::kCpu, 1),
      {0x2000, 8, R},
      {0x2008, 4, W},
      Record::event(EventOp::kCpu, 0),
      {0x1008, 8, R},
      Record::event(EventOp::kRoiBegin),
      Record::event(EventOp::kCpu, 2),
      {0x3000, 8, R},
  };
  for (std::size_t batch : {1, 2, 3, 1000}) {
    ScratchDir dir;
    write_bytes(dir.file("s"), bytes);
    QemuStreamReader reader(InputFile(dir.file("s")));
    EXPECT_EQ(read_all(reader, batch), expected) << batch;
    EXPECT_EQ(reader.unrecorded_processes(), 1) << batch;
  }
  // A single-threaded recording (vCPU 0 only) has no !cpu, as before vCPU notes.
  EXPECT_EQ(read_stream(kMagic2 + vcpu(0) + word(8 * kSize + 0x1000) + vcpu(0) +
                        word(8 * kSize + 0x2000)),
            (std::vector<Record>{{0x1000, 8, R}, {0x2000, 8, R}}));
  // vCPU 255 is the last a trace can name.
  EXPECT_EQ(read_stream(kMagic2 + vcpu(255) + word(8 * kSize + 0x1000)),
            (std::vector<Record>{Record::event(EventOp::kCpu, 255), {0x1000, 8, R}}));
  EXPECT_EQ(stream_error(kMagic2 + vcpu(256)),
            "byte 8: vCPU 256: a trace names CPUs 0 to 255 (the program ran threads past qemu's "
            "vCPU index 255)");
  // Bits 2-7 of a note are zero (else it is no note: a word of size 0); a vCPU note in a
  // version 1 stream is damage.
  EXPECT_EQ(stream_error(kMagic2 + word(3 * kKind + (1 << 8) + 1 + 4)), "byte 8: access of size 0");
  EXPECT_EQ(stream_error(kMagic + vcpu(1)), "byte 8: access of size 0");
}

TEST(QemuStream, DamageNamesTheByte) {
  EXPECT_EQ(stream_error(""),
            "byte 0: empty: the qemu plugin wrote nothing (qemu did not start or did not load it)");
  EXPECT_EQ(stream_error("PGSIMQ3\n"), "byte 0: bad magic: not pagesim's qemu plugin stream");
  // Word 1 starts at byte 8 + 8.
  EXPECT_EQ(stream_error(kMagic + word(8 * kSize) + word(0x1000)), "byte 16: access of size 0");
  EXPECT_EQ(stream_error(kMagic + word(8 * kSize) + "abc"),
            "byte 16: truncated: the stream ends inside a word");
  EXPECT_EQ(stream_error(kMagic + word(8 * kSize + 3 * kKind + 3)),
            "byte 8: bad escape word (kind 3, reserved bits set)");
  EXPECT_EQ(stream_error(kMagic + word(8 * kSize + 3 * kKind + 0x10)),
            "byte 8: bad escape word (kind 0, reserved bits set)");
  EXPECT_EQ(stream_error(kMagic + word(8 * kSize + 3 * kKind)),
            "byte 8: truncated: the stream ends after an escape word, before its address");
}

}  // namespace
}  // namespace pagesim::traces
