// Events in traces (docs/trace-format.md, "Events"): each text form parses to its record,
// each malformed form is an error naming its line, text <-> binary round trips keep events
// exactly and in place among the accesses, and damaged event records in a binary stream are
// errors naming a byte offset.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zstd.h>

#include <string>
#include <type_traits>
#include <vector>

#include "traces/binary_format.h"
#include "traces/generator.h"
#include "traces/record.h"
#include "traces/test_util.h"

namespace pagesim::traces {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;

// --- The record ------------------------------------------------------------------------

TEST(Record, AccessesAreAggregatesAndEventsAreMarkedByOp) {
  // sim/ builds and reads accesses as {address, size, kind}: that must keep compiling and
  // mean an access.
  constexpr Record access{0x1000, 4, W};
  static_assert(!access.is_event());
  static_assert(access.op == EventOp::kNone && access.arg1 == 0 && access.arg2 == 0);
  static_assert(std::is_aggregate_v<Record>);
  static_assert(std::is_trivially_copyable_v<Record>);
  static_assert(sizeof(Record) == 32 && alignof(Record) == 8);
  constexpr Record event = Record::event(EventOp::kMemslotAdd, 3, 0x100000, 2 * MiB);
  static_assert(event.is_event());
  static_assert(event.address == 3 && event.arg1 == 0x100000 && event.arg2 == 2 * MiB);
  static_assert(event.size == 0 && event.flags == 0);
}

TEST(Record, EveryOpHasANameAndAnArgumentCount) {
  for (unsigned op = 1; op <= kLastEventOp; ++op) {
    SCOPED_TRACE(op);
    EXPECT_FALSE(event_name(static_cast<EventOp>(op)).empty());
    EXPECT_TRUE(known_event(static_cast<EventOp>(op)));
    // Every op takes arguments except the region-of-interest marks.
    const bool roi = op == static_cast<unsigned>(EventOp::kRoiBegin) ||
                     op == static_cast<unsigned>(EventOp::kRoiEnd);
    EXPECT_EQ(event_arg_count(static_cast<EventOp>(op)) == 0, roi);
  }
  EXPECT_FALSE(known_event(static_cast<EventOp>(kLastEventOp + 1)));
  EXPECT_EQ(event_name(EventOp::kNone), "");
  EXPECT_EQ(event_arg_count(static_cast<EventOp>(kLastEventOp + 1)), 0u);
}

TEST(Record, CheckEvent) {
  EXPECT_EQ(check_event(Record::event(EventOp::kCr3, 7)), nullptr);
  EXPECT_STREQ(check_event(Record{0x1000, 8, R}), "unknown event op");
  EXPECT_STREQ(check_event(Record::event(static_cast<EventOp>(kLastEventOp + 1), 1)),
               "unknown event op");
  EXPECT_STREQ(check_event(Record::event(EventOp::kCr3, 7, 1)),
               "argument given that the event does not take");
  EXPECT_STREQ(check_event(Record::event(EventOp::kCr3, 7, 0, 0, kEventReadonly)),
               "unknown event flags");
  Record sized = Record::event(EventOp::kInvlpg, 0x1000);
  sized.size = 8;
  EXPECT_STREQ(check_event(sized), "an event has no access size or kind");
  EXPECT_STREQ(check_event(Record::event(EventOp::kMemslotAdd, 1ULL << 32, 0, 4096)),
               "memslot id does not fit in 32 bits");
  EXPECT_STREQ(check_event(Record::event(EventOp::kMemslotAdd, 1, 0x1800, 4096)),
               "memslot GPA is not a multiple of 4 KiB");
  EXPECT_STREQ(check_event(Record::event(EventOp::kMemslotAdd, 1, 0, 0)),
               "memslot size is not a nonzero multiple of 4 KiB");
  EXPECT_STREQ(check_event(Record::event(EventOp::kMemslotAdd, 1, ~0xfffULL, 8192)),
               "memslot extends past the top of the 64-bit address space");
  EXPECT_STREQ(check_event(Record::event(EventOp::kMemslotMove, 1, 0x10)),
               "memslot GPA is not a multiple of 4 KiB");
  EXPECT_STREQ(check_event(Record::event(EventOp::kMadviseCold, 0x10, 4096)),
               "madvise start is not a multiple of 4 KiB");
  EXPECT_STREQ(check_event(Record::event(EventOp::kMadviseCold, 0x1000, 0)), "madvise length is 0");
  EXPECT_STREQ(check_event(Record::event(EventOp::kBalloonDeflate, 0)),
               "balloon change of 0 pages");
  EXPECT_EQ(check_event(Record::event(EventOp::kVm, 0)), nullptr);
  EXPECT_EQ(check_event(Record::event(EventOp::kVm, kMaxVms - 1)), nullptr);
  EXPECT_STREQ(check_event(Record::event(EventOp::kVm, kMaxVms)), "VM index is not below 256");
  EXPECT_STREQ(check_event(Record::event(EventOp::kVm, ~0ULL)), "VM index is not below 256");
  EXPECT_STREQ(check_event(Record::event(EventOp::kVm, 1, 1)),
               "argument given that the event does not take");
  EXPECT_EQ(check_event(Record::event(EventOp::kCpu, 0)), nullptr);
  EXPECT_EQ(check_event(Record::event(EventOp::kCpu, kMaxCpus - 1)), nullptr);
  EXPECT_STREQ(check_event(Record::event(EventOp::kCpu, kMaxCpus)), "CPU index is not below 256");
  EXPECT_STREQ(check_event(Record::event(EventOp::kCpu, ~0ULL)), "CPU index is not below 256");
  EXPECT_STREQ(check_event(Record::event(EventOp::kCpu, 1, 1)),
               "argument given that the event does not take");
}

// --- Text form ---------------------------------------------------------------------------

struct ParseCase {
  const char* line;
  Record record;
};

class EventParses : public ::testing::TestWithParam<ParseCase> {};

TEST_P(EventParses, ToItsRecord) {
  EXPECT_EQ(parse(GetParam().line), std::vector<Record>{GetParam().record});
}

INSTANTIATE_TEST_SUITE_P(
    EveryForm, EventParses,
    ::testing::Values(
        ParseCase{"!memslot add 3 0x100000 2MiB\n",
                  Record::event(EventOp::kMemslotAdd, 3, 0x100000, 2 * MiB)},
        ParseCase{"!memslot add 0x10 4GiB 1G ro\n",
                  Record::event(EventOp::kMemslotAdd, 16, 4 * GiB, GiB, kEventReadonly)},
        ParseCase{"  !memslot\tadd 4294967295 0 4096   # a comment\n",
                  Record::event(EventOp::kMemslotAdd, 4294967295u, 0, 4096)},
        ParseCase{"!memslot del 7\n", Record::event(EventOp::kMemslotDelete, 7)},
        ParseCase{"!memslot move 7 0x200000000\n",
                  Record::event(EventOp::kMemslotMove, 7, 0x200000000)},
        ParseCase{"!memslot move 7 8GiB\r\n", Record::event(EventOp::kMemslotMove, 7, 8 * GiB)},
        ParseCase{"!cr3 2\n", Record::event(EventOp::kCr3, 2)},
        ParseCase{"!cr3 0xffffffffffffffff\n", Record::event(EventOp::kCr3, ~0ULL)},
        ParseCase{"!invlpg 0x7f0000001000\n", Record::event(EventOp::kInvlpg, 0x7f0000001000)},
        ParseCase{"!ptewrite 0x7f0000002000 unmap\n",
                  Record::event(EventOp::kPteUnmap, 0x7f0000002000)},
        ParseCase{"!ptewrite 4096 remap#c\n", Record::event(EventOp::kPteRemap, 4096)},
        ParseCase{"!exit 5\n", Record::event(EventOp::kExit, 5)},
        ParseCase{"!madvise dontneed 0x7f0000000000 2MiB\n",
                  Record::event(EventOp::kMadviseDontneed, 0x7f0000000000, 2 * MiB)},
        ParseCase{"!madvise pageout 0x1000 4100\n",
                  Record::event(EventOp::kMadvisePageout, 0x1000, 4100)},
        ParseCase{"!madvise cold 0 0x1000\n", Record::event(EventOp::kMadviseCold, 0, 4096)},
        ParseCase{"!balloon inflate 256\n", Record::event(EventOp::kBalloonInflate, 256)},
        ParseCase{"!balloon deflate 0x10\n", Record::event(EventOp::kBalloonDeflate, 16)},
        ParseCase{"!roi begin\n", Record::event(EventOp::kRoiBegin)},
        ParseCase{"!roi end\n", Record::event(EventOp::kRoiEnd)},
        ParseCase{"!vm 0\n", Record::event(EventOp::kVm, 0)},
        ParseCase{"!vm 3  # the fourth VM\n", Record::event(EventOp::kVm, 3)},
        ParseCase{"\t!vm 0xff\r\n", Record::event(EventOp::kVm, 255)},
        ParseCase{"!cpu 0\n", Record::event(EventOp::kCpu, 0)},
        ParseCase{"!cpu 7  # the eighth vCPU\n", Record::event(EventOp::kCpu, 7)},
        ParseCase{"\t!cpu 0xff\r\n", Record::event(EventOp::kCpu, 255)}));

TEST(TextEvents, InOrderWithAccesses) {
  EXPECT_EQ(parse("R 0x1000\n"
                  "!cr3 1\n"
                  "W 0x2000 16\n"
                  "!invlpg 0x2000\n"
                  "!invlpg 0x3000\n"
                  "X 0x3000\n"),
            (std::vector<Record>{{0x1000, 8, R},
                                 Record::event(EventOp::kCr3, 1),
                                 {0x2000, 16, W},
                                 Record::event(EventOp::kInvlpg, 0x2000),
                                 Record::event(EventOp::kInvlpg, 0x3000),
                                 {0x3000, 8, X}}));
}

struct ErrorCase {
  const char* text;
  const char* message;
};

class TextEventError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(TextEventError, NamesLineAndProblem) {
  EXPECT_EQ(parse_error(GetParam().text), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    EveryError, TextEventError,
    ::testing::Values(
        ErrorCase{"R 0x1000\n# c\n\n!foo 1\n",
                  "t.trace:4: unknown event '!foo' (events: !memslot, !cr3, !invlpg, !ptewrite, "
                  "!exit, !madvise, !balloon, !vm, !cpu, !roi)"},
        ErrorCase{"!\n",
                  "t.trace:1: unknown event '!' (events: !memslot, !cr3, !invlpg, !ptewrite, "
                  "!exit, !madvise, !balloon, !vm, !cpu, !roi)"},
        ErrorCase{"! cr3 1\n",
                  "t.trace:1: unknown event '!' (events: !memslot, !cr3, !invlpg, !ptewrite, "
                  "!exit, !madvise, !balloon, !vm, !cpu, !roi)"},
        ErrorCase{"!CR3 1\n",
                  "t.trace:1: unknown event '!CR3' (events: !memslot, !cr3, !invlpg, !ptewrite, "
                  "!exit, !madvise, !balloon, !vm, !cpu, !roi)"},
        ErrorCase{"!memslot\n",
                  "t.trace:1: '!memslot': missing operation (expected add, del, move: !memslot "
                  "add <id> <gpa> <size> [ro])"},
        ErrorCase{"!memslot resize 1 2\n",
                  "t.trace:1: '!memslot': unknown operation 'resize' (expected add, del, move: "
                  "!memslot add <id> <gpa> <size> [ro])"},
        ErrorCase{"!memslot add 1 0x1000\n",
                  "t.trace:1: '!memslot': missing <size> (expected !memslot add <id> <gpa> "
                  "<size> [ro])"},
        ErrorCase{"!memslot add 1 0x1000 # size forgotten\n",
                  "t.trace:1: '!memslot': missing <size> (expected !memslot add <id> <gpa> "
                  "<size> [ro])"},
        ErrorCase{"!memslot add x 0 4K\n",
                  "t.trace:1: '!memslot': bad <id> 'x' (expected 0x-hex or decimal, at most 64 "
                  "bits)"},
        ErrorCase{"!memslot add 1 0 4KB\n",
                  "t.trace:1: '!memslot': bad <size> '4KB' (expected a byte count: 0x-hex or "
                  "decimal, optionally with K, M, G, T or P)"},
        ErrorCase{"!memslot add 1 0 4K rw\n",
                  "t.trace:1: '!memslot': unexpected 'rw' (expected 'ro' or nothing: !memslot "
                  "add <id> <gpa> <size> [ro])"},
        ErrorCase{"!memslot add 1 0 4K ro ro\n",
                  "t.trace:1: '!memslot': unexpected 'ro' after the arguments (expected !memslot "
                  "add <id> <gpa> <size> [ro])"},
        ErrorCase{"!memslot add 4294967296 0 4K\n",
                  "t.trace:1: '!memslot add': memslot id does not fit in 32 bits"},
        ErrorCase{"!memslot add 1 0x800 4K\n",
                  "t.trace:1: '!memslot add': memslot GPA is not a multiple of 4 KiB"},
        ErrorCase{"!memslot add 1 0 100\n",
                  "t.trace:1: '!memslot add': memslot size is not a nonzero multiple of 4 KiB"},
        ErrorCase{"!memslot del\n",
                  "t.trace:1: '!memslot': missing <id> (expected !memslot del <id>)"},
        ErrorCase{"!memslot del 1 2\n",
                  "t.trace:1: '!memslot': unexpected '2' after the arguments (expected !memslot "
                  "del <id>)"},
        ErrorCase{"!memslot move 1\n",
                  "t.trace:1: '!memslot': missing <new-gpa> (expected !memslot move <id> "
                  "<new-gpa>)"},
        ErrorCase{"!cr3\n",
                  "t.trace:1: '!cr3': missing <address-space id> (expected !cr3 "
                  "<address-space id>)"},
        ErrorCase{"!cr3 -1\n",
                  "t.trace:1: '!cr3': bad <address-space id> '-1' (expected 0x-hex or decimal, "
                  "at most 64 bits)"},
        ErrorCase{"!cr3 0x10000000000000000\n",
                  "t.trace:1: '!cr3': bad <address-space id> '0x10000000000000000' (expected "
                  "0x-hex or decimal, at most 64 bits)"},
        ErrorCase{"!invlpg 0x12g4\n",
                  "t.trace:1: '!invlpg': bad <address> '0x12g4' (expected 0x-hex or decimal, at "
                  "most 64 bits)"},
        ErrorCase{"!invlpg 0x1000 8\n",
                  "t.trace:1: '!invlpg': unexpected '8' after the arguments (expected !invlpg "
                  "<address>)"},
        ErrorCase{"!ptewrite 0x1000\n",
                  "t.trace:1: '!ptewrite': missing operation (expected unmap, remap: !ptewrite "
                  "<address> unmap|remap)"},
        ErrorCase{"!ptewrite 0x1000 write\n",
                  "t.trace:1: '!ptewrite': unknown operation 'write' (expected unmap, remap: "
                  "!ptewrite <address> unmap|remap)"},
        ErrorCase{"!ptewrite unmap 0x1000\n",
                  "t.trace:1: '!ptewrite': bad <address> 'unmap' (expected 0x-hex or decimal, at "
                  "most 64 bits)"},
        ErrorCase{"!exit\n",
                  "t.trace:1: '!exit': missing <address-space id> (expected !exit <address-space "
                  "id>)"},
        ErrorCase{"!madvise free 0 4K\n",
                  "t.trace:1: '!madvise': unknown operation 'free' (expected dontneed, pageout, "
                  "cold: !madvise dontneed|pageout|cold <address> <length>)"},
        ErrorCase{"!madvise dontneed 0x1000\n",
                  "t.trace:1: '!madvise': missing <length> (expected !madvise "
                  "dontneed|pageout|cold <address> <length>)"},
        ErrorCase{"!madvise dontneed 0x1001 4K\n",
                  "t.trace:1: '!madvise dontneed': madvise start is not a multiple of 4 KiB"},
        ErrorCase{"!madvise pageout 0x1000 0\n",
                  "t.trace:1: '!madvise pageout': madvise length is 0"},
        ErrorCase{"!madvise cold 0xfffffffffffff000 8K\n",
                  "t.trace:1: '!madvise cold': madvise range extends past the top of the 64-bit "
                  "address space"},
        ErrorCase{"!balloon\n",
                  "t.trace:1: '!balloon': missing operation (expected inflate, deflate: !balloon "
                  "inflate|deflate <pages>)"},
        ErrorCase{"!balloon inflate 1M\n",
                  "t.trace:1: '!balloon': bad <pages> '1M' (expected 0x-hex or decimal, at most "
                  "64 bits)"},
        ErrorCase{"!balloon deflate 0\n",
                  "t.trace:1: '!balloon deflate': balloon change of 0 pages"},
        ErrorCase{"R 0x1000\n!vm 1\nR 0x2000\n!vm 256\n",
                  "t.trace:4: '!vm': VM index is not below 256"},
        ErrorCase{"!vm 0x100\n", "t.trace:1: '!vm': VM index is not below 256"},
        ErrorCase{"R 0x1000\n!cpu 1\nR 0x2000\n!cpu 256\n",
                  "t.trace:4: '!cpu': CPU index is not below 256"},
        ErrorCase{"!cpu\n", "t.trace:1: '!cpu': missing <index> (expected !cpu <index>)"},
        ErrorCase{"!cpu -1\n",
                  "t.trace:1: '!cpu': bad <index> '-1' (expected 0x-hex or decimal, at most 64 "
                  "bits)"},
        ErrorCase{"!cpu 1 2\n",
                  "t.trace:1: '!cpu': unexpected '2' after the arguments (expected !cpu <index>)"},
        ErrorCase{"!vm\n", "t.trace:1: '!vm': missing <index> (expected !vm <index>)"},
        ErrorCase{"!vm one\n",
                  "t.trace:1: '!vm': bad <index> 'one' (expected 0x-hex or decimal, at most 64 "
                  "bits)"},
        ErrorCase{"!vm 1 2\n",
                  "t.trace:1: '!vm': unexpected '2' after the arguments (expected !vm <index>)"},
        ErrorCase{"!VM 1\n",
                  "t.trace:1: unknown event '!VM' (events: !memslot, !cr3, !invlpg, !ptewrite, "
                  "!exit, !madvise, !balloon, !vm, !cpu, !roi)"}));

// --- Round trips ---------------------------------------------------------------------------

// Accesses with every kind of event interleaved: at the start, between accesses whose
// deltas are small and large, back to back, at the end.
std::vector<Record> mixed_with_events() {
  std::vector<Record> records = {
      Record::event(EventOp::kMemslotAdd, 0, 0, 640 * KiB),
      Record::event(EventOp::kMemslotAdd, 1, MiB, 3 * GiB - MiB),
      Record::event(EventOp::kMemslotAdd, 2, 4 * GiB, 4 * GiB),
      Record::event(EventOp::kMemslotAdd, 9, 0xfffc0000, 256 * KiB, kEventReadonly),
      {0x7f0000001000, 8, R},
      Record::event(EventOp::kCr3, 1),
      {0x7f0000001008, 3, W},
      Record::event(EventOp::kInvlpg, 0x7f0000001000),
      {0x7f0000001010, 8, R},
      Record::event(EventOp::kPteUnmap, 0x7f0000002000),
      Record::event(EventOp::kPteRemap, 0x7f0000003000),
      {~0ULL, 64, X},
      Record::event(EventOp::kMemslotMove, 2, 8 * GiB),
      Record::event(EventOp::kMemslotDelete, 9),
      {0, 1, R},
      Record::event(EventOp::kMadviseDontneed, 0x7f0000000000, 2 * MiB),
      Record::event(EventOp::kMadvisePageout, 0x1000, 4100),
      Record::event(EventOp::kMadviseCold, 0xffffffffff000, 4096),
      Record::event(EventOp::kBalloonInflate, 256),
      Record::event(EventOp::kBalloonDeflate, ~0ULL),
      Record::event(EventOp::kVm, 255),
      Record::event(EventOp::kRoiBegin),
      {0x8000000000000000, 4096, W},
      Record::event(EventOp::kRoiEnd),
      Record::event(EventOp::kVm, 0),
      Record::event(EventOp::kExit, 1),
      Record::event(EventOp::kCr3, ~0ULL),
      Record::event(EventOp::kCpu, 255),
      {0x5000, 8, R},
      Record::event(EventOp::kCpu, 0),
  };
  for (std::uint64_t i = 0; i < 300; ++i) {
    records.push_back({0x7f0000000000 + i * 4096 + (i % 7) * 8,
                       static_cast<std::uint32_t>(1u << (i % 7)), static_cast<AccessKind>(i % 3)});
    if (i % 13 == 0) {
      records.push_back(Record::event(EventOp::kInvlpg, 0x7f0000000000 + i * 4096));
    }
    if (i % 41 == 0) {
      records.push_back(Record::event(EventOp::kCr3, i));
    }
    if (i % 59 == 0) {
      records.push_back(Record::event(EventOp::kVm, i % 3));
    }
    if (i % 37 == 0) {
      records.push_back(Record::event(EventOp::kCpu, i % 5));
    }
  }
  records.push_back(Record::event(EventOp::kExit, 0));
  return records;
}

TEST(EventRoundTrip, TextBinaryText) {
  ScratchDir dir;
  const std::vector<Record> records = mixed_with_events();
  write_records(dir.file("a.trace"), Format::kText, records);
  const std::vector<Record> from_text = read_all(dir.file("a.trace"));
  ASSERT_EQ(from_text, records);
  write_records(dir.file("b.pgt"), Format::kBinary, from_text);
  const std::vector<Record> from_binary = read_all(dir.file("b.pgt"));
  ASSERT_EQ(from_binary, records);
  write_records(dir.file("c.trace"), Format::kText, from_binary);
  // The canonical text is the same bytes both times.
  EXPECT_EQ(read_bytes(dir.file("c.trace")), read_bytes(dir.file("a.trace")));
  for (std::size_t batch : {1, 2, 7, 4096}) {
    EXPECT_EQ(read_all(dir.file("b.pgt"), batch), records) << "batch " << batch;
    EXPECT_EQ(read_all(dir.file("c.trace"), batch), records) << "batch " << batch;
  }
  // The header counts events as records.
  EXPECT_EQ(open_trace(dir.file("b.pgt"))->record_count(), records.size());
}

TEST(EventRoundTrip, CanonicalTextSpelling) {
  ScratchDir dir;
  write_records(dir.file("t.trace"), Format::kText,
                {Record::event(EventOp::kMemslotAdd, 3, 0x100000, 2 * MiB, kEventReadonly),
                 Record::event(EventOp::kMemslotAdd, 4, 0x200000, 4100 * 4096),
                 Record::event(EventOp::kMemslotDelete, 3),
                 Record::event(EventOp::kMemslotMove, 4, 0x100000000),
                 Record::event(EventOp::kCr3, 12),
                 Record::event(EventOp::kInvlpg, 0x7f0000001000),
                 Record::event(EventOp::kPteUnmap, 0x1000),
                 Record::event(EventOp::kPteRemap, 0x2000),
                 Record::event(EventOp::kExit, 12),
                 Record::event(EventOp::kMadviseDontneed, 0x7f0000000000, GiB),
                 Record::event(EventOp::kMadvisePageout, 0x1000, 4100),
                 Record::event(EventOp::kMadviseCold, 0, 4096),
                 Record::event(EventOp::kBalloonInflate, 256),
                 Record::event(EventOp::kBalloonDeflate, 1),
                 Record::event(EventOp::kVm, 0),
                 Record::event(EventOp::kVm, 255),
                 Record::event(EventOp::kCpu, 0),
                 Record::event(EventOp::kCpu, 255),
                 {0x1000, 8, R}});
  EXPECT_EQ(read_bytes(dir.file("t.trace")),
            "!memslot add 3 0x100000 2MiB ro\n"
            "!memslot add 4 0x200000 16400KiB\n"
            "!memslot del 3\n"
            "!memslot move 4 0x100000000\n"
            "!cr3 12\n"
            "!invlpg 0x7f0000001000\n"
            "!ptewrite 0x1000 unmap\n"
            "!ptewrite 0x2000 remap\n"
            "!exit 12\n"
            "!madvise dontneed 0x7f0000000000 1GiB\n"
            "!madvise pageout 0x1000 4100\n"
            "!madvise cold 0x0 4KiB\n"
            "!balloon inflate 256\n"
            "!balloon deflate 1\n"
            "!vm 0\n"
            "!vm 255\n"
            "!cpu 0\n"
            "!cpu 255\n"
            "R 0x1000\n");
}

TEST(VmEvents, TextAndBinaryRoundTrip) {
  // Two VMs' accesses in one stream: `!vm` parses (decimal or 0x-hex) to kVm with the index
  // in `address`, in place among the accesses; text -> binary -> text gives the same records
  // and the same canonical bytes.
  ScratchDir dir;
  write_bytes(dir.file("a.trace"),
              "R 0x1000\n"
              "!vm 1\n"
              "R 0x1000\n"
              "W 0x2000 16\n"
              "!vm 0x0\n"
              "X 0x3000\n"
              "!vm 0xff   # the last index\n");
  const std::vector<Record> records = {{0x1000, 8, R},
                                       Record::event(EventOp::kVm, 1),
                                       {0x1000, 8, R},
                                       {0x2000, 16, W},
                                       Record::event(EventOp::kVm, 0),
                                       {0x3000, 8, X},
                                       Record::event(EventOp::kVm, 255)};
  ASSERT_EQ(read_all(dir.file("a.trace")), records);
  write_records(dir.file("b.pgt"), Format::kBinary, records);
  EXPECT_EQ(read_all(dir.file("b.pgt")), records);
  EXPECT_EQ(open_trace(dir.file("b.pgt"))->record_count(), records.size());
  write_records(dir.file("c.trace"), Format::kText, read_all(dir.file("b.pgt")));
  const std::string canonical =
      "R 0x1000\n!vm 1\nR 0x1000\nW 0x2000 16\n!vm 0\nX 0x3000\n!vm 255\n";
  EXPECT_EQ(read_bytes(dir.file("c.trace")), canonical);
  write_records(dir.file("d.trace"), Format::kText, read_all(dir.file("a.trace")));
  EXPECT_EQ(read_bytes(dir.file("d.trace")), canonical);
  write_records(dir.file("e.pgt"), Format::kBinary, read_all(dir.file("c.trace")));
  EXPECT_EQ(read_bytes(dir.file("e.pgt")), read_bytes(dir.file("b.pgt")));
}

TEST(VmEvents, BinaryEncoding) {
  // kVm is op 14: tag 3 | 14 << 2 = 0x3b, flags 0, the index as a varint; outside the
  // delta chain like every event.
  ScratchDir dir;
  write_records(dir.file("t.pgt"), Format::kBinary,
                {{0x1000, 8, R}, Record::event(EventOp::kVm, 200), {0xff8, 3, W}});
  const std::string bytes = read_bytes(dir.file("t.pgt"));
  std::string stream(4096, '\0');
  const std::size_t n =
      ZSTD_decompress(stream.data(), stream.size(), bytes.data() + 32, bytes.size() - 32);
  ASSERT_FALSE(ZSTD_isError(n));
  stream.resize(n);
  EXPECT_EQ(stream, std::string("\x0c\x80\x40", 3) + std::string("\x3b\x00\xc8\x01", 4) +
                        std::string("\x1d\x0f\x03", 3));
}

TEST(VmEvents, WritersRefuseAnIndexOf256) {
  ScratchDir dir;
  for (Format format : {Format::kText, Format::kBinary}) {
    const std::string path = dir.file(format == Format::kText ? "t.trace" : "t.pgt");
    auto writer = create_writer(path, format);
    EXPECT_THAT(trace_error_of(
                    [&] { writer->write(std::vector<Record>{Record::event(EventOp::kVm, 256)}); }),
                HasSubstr("event 'vm' (op 14): VM index is not below 256"));
  }
}

TEST(CpuEvents, TextAndBinaryRoundTrip) {
  // Two vCPUs of two VMs in one stream: `!cpu` parses (decimal or 0x-hex) to kCpu with the
  // index in `address`, in place among the accesses and the `!vm` events; text -> binary ->
  // text gives the same records and the same canonical bytes.
  ScratchDir dir;
  write_bytes(dir.file("a.trace"),
              "R 0x1000\n"
              "!cpu 1\n"
              "!cr3 5\n"
              "W 0x2000 16\n"
              "!vm 1\n"
              "!cpu 0x2\n"
              "X 0x3000\n"
              "!cpu 0xff   # the last index\n");
  const std::vector<Record> records = {
      {0x1000, 8, R},  Record::event(EventOp::kCpu, 1),  Record::event(EventOp::kCr3, 5),
      {0x2000, 16, W}, Record::event(EventOp::kVm, 1),   Record::event(EventOp::kCpu, 2),
      {0x3000, 8, X},  Record::event(EventOp::kCpu, 255)};
  ASSERT_EQ(read_all(dir.file("a.trace")), records);
  write_records(dir.file("b.pgt"), Format::kBinary, records);
  EXPECT_EQ(read_all(dir.file("b.pgt")), records);
  EXPECT_EQ(open_trace(dir.file("b.pgt"))->record_count(), records.size());
  write_records(dir.file("c.trace"), Format::kText, read_all(dir.file("b.pgt")));
  EXPECT_EQ(read_bytes(dir.file("c.trace")),
            "R 0x1000\n!cpu 1\n!cr3 5\nW 0x2000 16\n!vm 1\n!cpu 2\nX 0x3000\n!cpu 255\n");
  write_records(dir.file("e.pgt"), Format::kBinary, read_all(dir.file("c.trace")));
  EXPECT_EQ(read_bytes(dir.file("e.pgt")), read_bytes(dir.file("b.pgt")));
}

TEST(CpuEvents, BinaryEncoding) {
  // kCpu is op 17: tag 3 | 17 << 2 = 0x47, flags 0, the index as a varint (200 = c8 01),
  // outside the delta chain like every event; the header says 1.2.
  ScratchDir dir;
  write_records(dir.file("t.pgt"), Format::kBinary,
                {{0x1000, 8, R}, Record::event(EventOp::kCpu, 200), {0xff8, 3, W}});
  const std::string bytes = read_bytes(dir.file("t.pgt"));
  EXPECT_EQ(bytes.substr(8, 4), le(1, 2) + le(2, 2));
  std::string stream(4096, '\0');
  const std::size_t n =
      ZSTD_decompress(stream.data(), stream.size(), bytes.data() + 32, bytes.size() - 32);
  ASSERT_FALSE(ZSTD_isError(n));
  stream.resize(n);
  EXPECT_EQ(stream, std::string("\x0c\x80\x40", 3) + std::string("\x47\x00\xc8\x01", 4) +
                        std::string("\x1d\x0f\x03", 3));
}

TEST(CpuEvents, EveryFormatRefusesAnIndexOf256) {
  ScratchDir dir;
  for (Format format : {Format::kText, Format::kBinary}) {
    const std::string path = dir.file(format == Format::kText ? "t.trace" : "t.pgt");
    auto writer = create_writer(path, format);
    EXPECT_THAT(trace_error_of(
                    [&] { writer->write(std::vector<Record>{Record::event(EventOp::kCpu, 256)}); }),
                HasSubstr("event 'cpu' (op 17): CPU index is not below 256"));
  }
  // Reading: the text form names the line (TextEventError above); a 1.2 binary stream
  // names the record and byte. !cpu 256 is tag 0x47, flags 0, varint 80 02.
  EXPECT_THAT(
      binary_error(header(1, 2, 0, 32, 0) + zstd_frame(std::string("\x0c\x02\x47\x00\x80\x02", 6))),
      MatchesRegex("t\\.pgt: byte [0-9]+: record 1 \\(decoded byte 2\\): event 'cpu': CPU "
                   "index is not below 256"));
  // A 1.2 file with op 18 is refused as an unknown op.
  EXPECT_THAT(binary_error(header(1, 2, 0, 32, 0) + zstd_frame(std::string("\x4b\x00\x01", 3))),
              HasSubstr("tag 0x4b: event op 18 is not defined in format 1.2 (written by a newer "
                        "pagesim?)"));
  // A 1.2 file with !cpu 255 reads.
  write_bytes(dir.file("ok.pgt"),
              header(1, 2, 0, 32, 0) + zstd_frame(std::string("\x47\x00\xff\x01", 4)));
  EXPECT_EQ(read_all(dir.file("ok.pgt")), std::vector<Record>{Record::event(EventOp::kCpu, 255)});
}

TEST(EventRoundTrip, EventsLeaveTheAccessDeltasAlone) {
  // The access stream with events between accesses encodes each access exactly as without
  // them: events are absolute and do not move the delta base. Decoded streams differ by the
  // event bytes only.
  auto stream_of = [](const std::vector<Record>& records) {
    ScratchDir dir;
    write_records(dir.file("t.pgt"), Format::kBinary, records);
    const std::string bytes = read_bytes(dir.file("t.pgt"));
    std::string stream(4096, '\0');
    const std::size_t n =
        ZSTD_decompress(stream.data(), stream.size(), bytes.data() + 32, bytes.size() - 32);
    EXPECT_FALSE(ZSTD_isError(n));
    stream.resize(n);
    return stream;
  };
  const std::string plain = stream_of({{0x1000, 8, R}, {0xff8, 3, W}});
  const std::string with_event =
      stream_of({{0x1000, 8, R}, Record::event(EventOp::kInvlpg, 0x7f0000000000), {0xff8, 3, W}});
  EXPECT_EQ(plain, std::string("\x0c\x80\x40\x1d\x0f\x03", 6));
  // kInvlpg is op 5: tag 3 | 5 << 2 = 0x17; flags 0; argument 0x7f0000000000 as a varint.
  EXPECT_EQ(with_event, std::string("\x0c\x80\x40", 3) +
                            std::string("\x17\x00\x80\x80\x80\x80\x80\xe0\x1f", 9) +
                            std::string("\x1d\x0f\x03", 3));
}

TEST(EventRoundTrip, ConcatenatedReadersResetEventFields) {
  // One batch buffer reused across readers (as `convert` does): an access read into a slot
  // that held an event must come out as a plain access.
  ScratchDir dir;
  write_records(dir.file("e.trace"), Format::kText,
                {Record::event(EventOp::kMemslotAdd, 1, 0, 4096), Record::event(EventOp::kCr3, 2)});
  write_records(dir.file("e.pgt"), Format::kBinary,
                {Record::event(EventOp::kMemslotAdd, 1, 0, 4096), Record::event(EventOp::kCr3, 2)});
  for (const char* second : {"gen:sequential:count=2,footprint=4K,base=0", "a.trace", "a.pgt"}) {
    for (const char* first : {"e.trace", "e.pgt"}) {
      SCOPED_TRACE(std::string(first) + " then " + second);
      write_records(dir.file("a.trace"), Format::kText, {{0, 8, R}, {8, 8, R}});
      write_records(dir.file("a.pgt"), Format::kBinary, {{0, 8, R}, {8, 8, R}});
      std::vector<Record> batch(2);
      auto events = open_trace(dir.file(first));
      ASSERT_EQ(events->read(batch), 2u);
      auto accesses = open_trace(std::string(second).starts_with("gen:") ? std::string(second)
                                                                         : dir.file(second));
      ASSERT_EQ(accesses->read(batch), 2u);
      EXPECT_EQ(batch, (std::vector<Record>{{0, 8, R}, {8, 8, R}}));
    }
  }
}

TEST(EventRoundTrip, WritersRefuseMalformedEvents) {
  ScratchDir dir;
  for (Format format : {Format::kText, Format::kBinary}) {
    const std::string path = dir.file(format == Format::kText ? "t.trace" : "t.pgt");
    auto writer = create_writer(path, format);
    EXPECT_THAT(trace_error_of([&] {
                  writer->write(std::vector<Record>{Record::event(EventOp::kMemslotAdd, 1, 1, 1)});
                }),
                HasSubstr("event 'memslot add' (op 1): memslot GPA is not a multiple of 4 KiB"));
    EXPECT_THAT(trace_error_of([&] {
                  writer->write(std::vector<Record>{Record::event(static_cast<EventOp>(200), 1)});
                }),
                HasSubstr("(op 200): unknown event op"));
  }
}

TEST(EventRoundTrip, GeneratorsProduceNoEvents) {
  for (const char* spec : {"sequential", "strided", "uniform", "zipf", "pointer_chase"}) {
    auto generator = make_generator(parse_generator_spec(std::string(spec) + ":count=10000"));
    for (const Record& r : read_all(*generator)) {
      ASSERT_FALSE(r.is_event()) << spec;
      ASSERT_EQ(r.flags, 0) << spec;
      ASSERT_EQ(r.arg1 | r.arg2, 0u) << spec;
    }
  }
}

// --- Binary damage and versions -------------------------------------------------------------

TEST(BinaryEvents, TruncatedAtEveryOffset) {
  ScratchDir dir;
  write_records(dir.file("full.pgt"), Format::kBinary, mixed_with_events());
  const std::string bytes = read_bytes(dir.file("full.pgt"));
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    SCOPED_TRACE("truncated to " + std::to_string(size) + " of " + std::to_string(bytes.size()));
    EXPECT_THAT(binary_error(bytes.substr(0, size)), MatchesRegex("t\\.pgt: byte [0-9]+: .*"));
  }
}

TEST(BinaryEvents, EveryFlippedByteIsCaughtOrHarmless) {
  ScratchDir dir;
  write_records(dir.file("full.pgt"), Format::kBinary, mixed_with_events());
  const std::string bytes = read_bytes(dir.file("full.pgt"));
  for (std::size_t offset = 0; offset < bytes.size(); ++offset) {
    for (int mask : {0x5a, 0x01, 0x80}) {
      SCOPED_TRACE("byte " + std::to_string(offset) + " ^ " + std::to_string(mask));
      std::string damaged = bytes;
      damaged[offset] = static_cast<char>(damaged[offset] ^ mask);
      write_bytes(dir.file("d.pgt"), damaged);
      // Either an error naming a byte, or (a flip zstd or the header ignores: the reserved
      // word, a minor version still >= 1, an unused bit of a zstd block header) exactly the
      // records written: the frame checksum covers the whole record stream.
      try {
        EXPECT_EQ(read_all(dir.file("d.pgt")), mixed_with_events());
      } catch (const TraceError& e) {
        EXPECT_THAT(e.what(), MatchesRegex(".*d\\.pgt: byte [0-9]+: .*"));
        EXPECT_FALSE(offset >= 20 && offset < 24) << "the reserved word is ignored";
        EXPECT_FALSE(offset == 11 || (offset == 10 && (1 ^ mask) >= 1))
            << "a minor version >= 1 reads events";
      }
    }
  }
}

TEST(BinaryEvents, DamagedEventsInTheRawStream) {
  // Event records damaged before compression (so zstd's checksum is happy): the decoder
  // itself must notice. Every truncation of a stream of events, and every bit flip (and a
  // few chosen values) at every position, gives records or a TraceError naming a byte:
  // never a crash.
  std::string stream;
  stream += std::string("\x0c\x80\x40", 3);                      // R 8 at 0x1000
  stream += std::string("\x07\x01\x03\x80\x80\x04\x80\x20", 8);  // memslot add 3 0x10000 4K ro
  stream += std::string("\x13\x00\x05", 3);                      // cr3 5
  stream += std::string("\x27\x00\x80\x20\x80\x20", 6);          // madvise dontneed 0x1000 4 KiB
  stream += std::string("\x0c\x02", 2);                          // R 8 at 0x1001
  const std::vector<Record> expected = {
      {0x1000, 8, R},
      Record::event(EventOp::kMemslotAdd, 3, 0x10000, 4096, kEventReadonly),
      Record::event(EventOp::kCr3, 5),
      Record::event(EventOp::kMadviseDontneed, 0x1000, 4096),
      {0x1001, 8, R}};
  {
    ScratchDir dir;
    write_bytes(dir.file("t.pgt"), header(1, 1, 0, 32, 5) + zstd_frame(stream));
    ASSERT_EQ(read_all(dir.file("t.pgt")), expected);
  }
  for (std::size_t cut = 0; cut < stream.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    // Inside a record: "ends in the middle"; between records: fewer than the header's 5.
    EXPECT_THAT(binary_error(header(1, 1, 0, 32, 5) + zstd_frame(stream.substr(0, cut))),
                MatchesRegex("t\\.pgt: byte [0-9]+: .*"));
  }
  ScratchDir dir;
  for (std::size_t at = 0; at < stream.size(); ++at) {
    // Each single-bit flip, and the values that matter to tags and varints.
    std::vector<int> values = {0x00, 0x01, 0x03, 0x7f, 0x80, 0xff, 0x37, 0x3b, 0xfb};
    for (int bit = 0; bit < 8; ++bit) {
      values.push_back(static_cast<unsigned char>(stream[at]) ^ (1 << bit));
    }
    for (int value : values) {
      std::string damaged = stream;
      damaged[at] = static_cast<char>(value);
      write_bytes(dir.file("d.pgt"), header(1, 1, 0, 32, 0) + zstd_frame(damaged));
      try {
        read_all(dir.file("d.pgt"));
      } catch (const TraceError& e) {
        ASSERT_THAT(e.what(), HasSubstr(": byte ")) << at << " " << value;
      }
    }
  }
}

struct StreamCase {
  std::string payload;
  std::string message;
};

class DamagedEventRecord : public ::testing::TestWithParam<StreamCase> {};

TEST_P(DamagedEventRecord, NamesRecordAndOffset) {
  const std::string message = binary_error(header(1, 1, 0, 32, 0) + zstd_frame(GetParam().payload));
  EXPECT_THAT(message, MatchesRegex("t\\.pgt: byte [0-9]+: .*"));
  EXPECT_THAT(message, HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    EveryEventError, DamagedEventRecord,
    ::testing::Values(
        StreamCase{std::string("\x0c\x02\x03\x00", 4),
                   "record 1 (decoded byte 2): tag 0x03: event op 0 is not defined in format 1.1"},
        // Op 17 (cpu) came in 1.2: under this 1.1 header it is damage, not a newer writer.
        StreamCase{std::string("\x47\x00\x01", 3),
                   "record 0 (decoded byte 0): tag 0x47: event op 17 ('cpu') is not defined in "
                   "format 1.1, the header's version (it came in 1.2)"},
        StreamCase{std::string("\x4b\x00\x01", 3),
                   "record 0 (decoded byte 0): tag 0x4b: event op 18 is not defined in format 1.1 "
                   "(written by a newer pagesim?)"},
        StreamCase{std::string("\xff\x00\x01", 3), "tag 0xff: event op 63 is not defined"},
        StreamCase{std::string("\x13", 1),
                   "record 0 (decoded byte 0): the stream ends in the middle of a record (event "
                   "flags)"},
        StreamCase{std::string("\x13\x00", 2),
                   "the stream ends in the middle of a record (event argument 0)"},
        StreamCase{std::string("\x07\x00\x01\x00", 4),
                   "the stream ends in the middle of a record (event argument 2)"},
        StreamCase{std::string("\x13\x80\x80\x80\x01\x05", 6),
                   "garbage event flags varint: longer than 3 bytes"},
        StreamCase{std::string("\x13\x80\x80\x04\x05", 5), "event flags 65536 is out of range"},
        StreamCase{std::string("\x13\x00", 2) + std::string(10, '\xff') + "\x01",
                   "garbage event argument 0 varint: more than 64 bits"},
        StreamCase{std::string("\x13\x01\x05", 3), "event 'cr3': unknown event flags"},
        StreamCase{std::string("\x07\x00\x01\x01\x80\x20", 6),
                   "event 'memslot add': memslot GPA is not a multiple of 4 KiB"},
        StreamCase{std::string("\x33\x00\x00", 3),
                   "event 'balloon inflate': balloon change of 0 "
                   "pages"},
        StreamCase{std::string("\x0c\x02\x3b\x00\x80\x02", 6),
                   "record 1 (decoded byte 2): event 'vm': VM index is not below 256"}));

TEST(BinaryEvents, FilesAreVersion12AndOldFilesStillRead) {
  ScratchDir dir;
  write_records(dir.file("t.pgt"), Format::kBinary, {{0x1000, 8, R}});
  const std::string bytes = read_bytes(dir.file("t.pgt"));
  EXPECT_EQ(bytes.substr(8, 4), le(1, 2) + le(2, 2));
  EXPECT_THAT(open_trace(dir.file("t.pgt"))->describe(),
              HasSubstr("(binary trace v1.2, 1 records)"));
  // A 1.1 file (events, no !cpu) reads as before: an access, !vm 1 (tag 0x3b), an access.
  write_bytes(dir.file("v11.pgt"),
              header(1, 1, 0, 32, 3) + zstd_frame(std::string("\x0c\x02\x3b\x00\x01\x0d\x04", 7)));
  EXPECT_EQ(read_all(dir.file("v11.pgt")),
            (std::vector<Record>{{1, 8, R}, Record::event(EventOp::kVm, 1), {3, 8, W}}));
  // A 1.0 file (accesses only) reads as before.
  write_bytes(dir.file("old.pgt"),
              header(1, 0, 0, 32, 2) + zstd_frame(std::string("\x0c\x02\x0d\x04", 4)));
  EXPECT_EQ(read_all(dir.file("old.pgt")), (std::vector<Record>{{1, 8, R}, {3, 8, W}}));
}

TEST(BinaryEvents, OldReaderRule) {
  // docs/trace-format.md: a 1.0 reader meets an event's tag and stops, because every event
  // tag has access kind 3, which 1.0 defines as invalid ("tag 0x..: access kind 3 is not
  // defined"). Check that every tag the writer emits for an event has kind bits 3, and every
  // access tag does not.
  ScratchDir dir;
  std::vector<Record> records;
  for (unsigned op = 1; op <= kLastEventOp; ++op) {
    records.push_back({0x1000, 8, R});
    // Every argument 4096, except a VM or CPU index (below 256): 64.
    const bool index =
        static_cast<EventOp>(op) == EventOp::kVm || static_cast<EventOp>(op) == EventOp::kCpu;
    Record event = Record::event(static_cast<EventOp>(op), index ? 64 : 4096);
    if (event_arg_count(event.op) >= 2) {
      event.arg1 = 4096;
    }
    if (event_arg_count(event.op) >= 3) {
      event.arg2 = 4096;
    }
    records.push_back(event);
  }
  write_records(dir.file("t.pgt"), Format::kBinary, records);
  const std::string bytes = read_bytes(dir.file("t.pgt"));
  std::string stream(4096, '\0');
  const std::size_t n =
      ZSTD_decompress(stream.data(), stream.size(), bytes.data() + 32, bytes.size() - 32);
  ASSERT_FALSE(ZSTD_isError(n));
  stream.resize(n);
  // Walk the stream: access "0c <1-byte delta>", then event "tag 00 <args>", each argument
  // 4096 (varint 80 20) or 64 (varint 40).
  std::size_t at = 0;
  for (unsigned op = 1; op <= kLastEventOp; ++op) {
    SCOPED_TRACE(op);
    ASSERT_EQ(static_cast<unsigned char>(stream[at]) & 3, 0u);
    at += (op == 1) ? 3 : 2;  // the first access has delta 0x1000 (2 varint bytes)
    const auto tag = static_cast<unsigned char>(stream[at]);
    EXPECT_EQ(tag & 3, 3u);
    EXPECT_EQ(tag >> 2, op);
    EXPECT_EQ(stream[at + 1], '\0');  // flags
    const bool index =
        static_cast<EventOp>(op) == EventOp::kVm || static_cast<EventOp>(op) == EventOp::kCpu;
    at += 2 + (index ? 1 : event_arg_count(static_cast<EventOp>(op)) * 2);
  }
  EXPECT_EQ(at, stream.size());
  // A stream with events under a 1.0 header is refused by this reader too.
  EXPECT_THAT(binary_error(header(1, 0, 0, 32, 0) + zstd_frame(std::string("\x13\x00\x05", 3))),
              MatchesRegex("t\\.pgt: byte [0-9]+: record 0 \\(decoded byte 0\\): tag 0x13: an "
                           "event record, but the header says version 1\\.0, which has no "
                           "events"));
}

}  // namespace
}  // namespace pagesim::traces
