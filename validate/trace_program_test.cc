// `pagesim-validate --trace`: how a trace becomes the guest's program (trace_program.h) and
// its command lists (GuestLayout), without KVM. Every expected value follows from the
// placement rules written in trace_program.h.
#include "validate/trace_program.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "validate/machine.h"
#include "validate/scenario.h"

namespace pagesim::validate {
namespace {

using Kind = TraceProgram::Step::Kind;

class TraceFile {
 public:
  explicit TraceFile(const std::string& text) {
    static int n = 0;
    m_path = std::filesystem::temp_directory_path() /
             ("pagesim_trace_program_test_" + std::to_string(getpid()) + "_" + std::to_string(n++) +
              ".trace");
    std::ofstream(m_path) << text;
  }
  ~TraceFile() { std::filesystem::remove(m_path); }
  std::string path() const { return m_path.string(); }

 private:
  std::filesystem::path m_path;
};

std::shared_ptr<const TraceProgram> program(const std::string& text) {
  TraceFile f(text);
  return TraceProgram::load(f.path());
}

TEST(TraceProgram, PagesInFirstTouchOrderEachAccessAPage) {
  // Two pages; the third access is the first page again; the fourth crosses from page 1 into
  // a third page (8 bytes from 0xffc), so it touches both.
  const auto p = program(
      "W 0x7f1000000000\n"
      "R 0x7f1000001008\n"
      "W 0x7f1000000010\n"
      "R 0x7f1000001ffc 8\n"
      "X 0x7f1000005000 4\n");
  ASSERT_EQ(p->pages().size(), 4u);
  EXPECT_EQ(p->pages()[0].gva, 0x7f1000000000u);
  EXPECT_EQ(p->pages()[1].gva, 0x7f1000001000u);
  EXPECT_EQ(p->pages()[2].gva, 0x7f1000002000u);
  EXPECT_EQ(p->pages()[3].gva, 0x7f1000005000u);
  EXPECT_FALSE(p->pages()[0].fetched);
  EXPECT_TRUE(p->pages()[3].fetched);
  ASSERT_EQ(p->steps().size(), 6u);  // 5 accesses, one of which covers two pages
  EXPECT_EQ(p->steps()[0].kind, Kind::kWrite);
  EXPECT_EQ(p->steps()[2].value, 0u);  // the first page again
  EXPECT_EQ(p->steps()[3].value, 1u);
  EXPECT_EQ(p->steps()[4].value, 2u);
  EXPECT_EQ(p->steps()[5].kind, Kind::kFetch);
  EXPECT_EQ(p->records(), 5u);
  ASSERT_EQ(p->segments().size(), 1u);
  EXPECT_EQ(p->segments()[0].name, "trace");
  EXPECT_TRUE(p->relocations().empty());  // PML4 entry 254: the VMM's are 0, 160, 192

  // 4 KiB guest pages: page j at kDataGpa + 4 KiB * j.
  Scenario s{.trace = p};
  EXPECT_EQ(trace_page_gpa(s, 3), Gpa(kDataGpa + 3 * 4096));
  // 2 MiB guest pages: all four pages are in the first 2 MiB region, at their offsets.
  s.guest_pages = GuestPages::k2M;
  EXPECT_EQ(p->regions(), 1u);
  EXPECT_EQ(trace_page_gpa(s, 3), Gpa(kDataGpa + 0x5000));
}

TEST(TraceProgram, RegionsOfTheVmmMoveWholeToTheLowestFreePml4Entry) {
  // PML4 entry 0 (the identity map) and 160 (the hole) are the VMM's; entry 1 is the
  // trace's own, so entry 0 moves to 2 and entry 160 to 3, each keeping its offset.
  const auto p = program(
      "R 0x1000\n"
      "R 0x8000000000\n"
      "R 0x500000201000\n"
      "!invlpg 0x1000\n");
  ASSERT_EQ(p->relocations().size(), 2u);
  EXPECT_EQ(p->relocations()[0], (std::pair<unsigned, unsigned>(0, 2)));
  EXPECT_EQ(p->relocations()[1], (std::pair<unsigned, unsigned>(160, 3)));
  EXPECT_EQ(p->pages()[0].gva, (2ull << 39) | 0x1000);
  EXPECT_EQ(p->pages()[1].gva, 0x8000000000u);  // kept
  EXPECT_EQ(p->pages()[2].gva, (3ull << 39) | 0x201000);
  EXPECT_EQ(p->steps().back().kind, Kind::kInvlpg);
  EXPECT_EQ(p->steps().back().value, (2ull << 39) | 0x1000);  // the INVLPG moves too
}

TEST(TraceProgram, AddressSpacesHaveTheirOwnPages) {
  const auto p = program(
      "W 0x7f1000000000\n"
      "!cr3 5\n"
      "W 0x7f1000000000\n"
      "!cr3 0\n"
      "R 0x7f1000000000\n");
  ASSERT_EQ(p->address_spaces(), 2u);
  EXPECT_EQ(p->space_id(1), 5u);
  ASSERT_EQ(p->pages().size(), 2u);  // the same GVA in two address spaces
  EXPECT_EQ(p->pages()[1].space, 1u);
  EXPECT_EQ(p->final_space(), 0u);
  // Two event groups: acc1, ev1, acc2, ev2, acc3.
  ASSERT_EQ(p->segments().size(), 5u);
  EXPECT_EQ(p->segments()[1].name, "ev1");
  EXPECT_EQ(p->segments()[1].label, "cr3");
  EXPECT_EQ(p->segments()[2].space, 1u);
  EXPECT_EQ(p->steps()[4].value, 0u);  // back in the first space: its page
}

TEST(TraceProgram, ManyEventGroupsMakeOnePhasePerPass) {
  // 33 groups: more than the 32 that get phases of their own.
  std::string text;
  for (int i = 0; i < 33; ++i) text += "R 0x7f1000000000\n!invlpg 0x7f1000000000\n";
  const auto p = program(text);
  ASSERT_EQ(p->segments().size(), 1u);
  EXPECT_EQ(p->segments()[0].end, 66u);
}

TEST(TraceProgram, APteWriteBeforeTheFirstTouchChangesNothing) {
  const auto p = program(
      "!ptewrite 0x7f1000000000 remap\n"
      "W 0x7f1000000000\n"
      "!ptewrite 0x7f1000000000 unmap\n");
  ASSERT_EQ(p->steps().size(), 2u);
  EXPECT_EQ(p->steps()[1].kind, Kind::kUnmap);
  EXPECT_EQ(p->remaps(), 0u);
  EXPECT_TRUE(p->has_pte_writes());
}

TEST(TraceProgram, EventsWithoutACounterpartAreRefusedByName) {
  const std::pair<const char*, const char*> cases[] = {
      {"W 0x1000\n!madvise dontneed 0x1000 4096\n", "record 2: '!madvise dontneed'"},
      {"W 0x1000\n!memslot del 1\n", "record 2: '!memslot del'"},
      {"!balloon inflate 4\n", "record 1: '!balloon inflate'"},
      {"W 0x1000\n!exit 0\n", "record 2: '!exit'"},
      {"!vm 1\n", "record 1: '!vm'"},
      {"R 0x800000000000\n", "record 1: an access to a non-canonical address"},
      {"!cr3 1\n", "no access"},
  };
  for (const auto& [text, message] : cases) {
    try {
      program(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const TraceRefused& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(program("!vm 0\n!roi begin\nR 0x1000\n!roi end\n"));
}

TEST(TraceProgram, CommandListsCarryThePagesStateAcrossPhasesAndPasses) {
  // Page A written, unmapped, read (mapped again first), remapped; a second address space.
  const auto p = program(
      "W 0x7f1000000000\n"
      "!ptewrite 0x7f1000000000 unmap\n"
      "R 0x7f1000000000\n"
      "!ptewrite 0x7f1000000000 remap\n"
      "!cr3 1\n"
      "X 0x400000\n");
  const Scenario s{.passes = 2, .trace = p};
  check(s);
  GuestLayout layout(s);
  const auto phases = phases_of(s);
  // acc1, ev1 (unmap), acc2, ev2 (remap, cr3), acc3, per pass.
  ASSERT_EQ(phases.size(), 10u);
  EXPECT_EQ(phases[0].name, "pass1:acc1");
  EXPECT_EQ(phases[3].name, "pass1:ev2");
  EXPECT_EQ(phases[5].name, "pass2:acc1");

  const Gpa frame = trace_page_gpa(s, 0);
  const std::uint64_t flags = kPtePresent | kPteWritable | kPteUser | kPteAccessed | kPteDirty;
  const auto pte = layout.tree(0).leaf_entry(Gva(0x7f1000000000));
  ASSERT_TRUE(pte);
  auto words = [&](std::size_t phase) { return layout.commands(phases[phase]).words(); };
  using W = std::vector<std::uint64_t>;
  const std::uint64_t store = static_cast<std::uint64_t>(Op::kStore);
  const std::uint64_t end = static_cast<std::uint64_t>(Op::kEnd);
  EXPECT_EQ(words(0), (W{0x7f1000000000 | static_cast<std::uint64_t>(Op::kWrite), end}));
  EXPECT_EQ(words(1), (W{store, pte->value(), 0, end}));
  // The unmapped page is mapped again to its frame before the read.
  EXPECT_EQ(words(2), (W{store, pte->value(), frame.value() | flags,
                         0x7f1000000000 | static_cast<std::uint64_t>(Op::kRead), end}));
  // The remap takes spare frame 0; the CR3 write loads the second tree.
  EXPECT_EQ(words(3),
            (W{store, pte->value(), spare_gpa(s, 0).value() | flags,
               layout.tree(1).root().value() | static_cast<std::uint64_t>(Op::kCr3), end}));
  // The fetch jumps to the page's kFetchOffset, where the stub was written.
  // 0x400000 is in PML4 entry 0, the VMM's: its region moved to entry 1.
  const std::uint64_t fetch_at = ((1ull << 39) | 0x400000) + TraceProgram::kFetchOffset;
  EXPECT_EQ(words(4), (W{fetch_at | static_cast<std::uint64_t>(Op::kFetch), end}));
  const Gpa fetched = trace_page_gpa(s, 1);
  EXPECT_EQ(std::memcmp(layout.gpa_ptr(Gpa(fetched.value() + TraceProgram::kFetchOffset)),
                        kFetchStub, sizeof kFetchStub),
            0);
  EXPECT_EQ(layout.preloaded_data_pages(), std::vector<Gpa>{fetched});
  // Pass 2 starts back in the first address space; its remap takes spare frame 1.
  EXPECT_EQ(words(5), (W{layout.tree(0).root().value() | static_cast<std::uint64_t>(Op::kCr3),
                         0x7f1000000000 | static_cast<std::uint64_t>(Op::kWrite), end}));
  EXPECT_EQ(words(8)[2], spare_gpa(s, 1).value() | flags);
  // The pages' 2 MiB, then the two spare frames (one remap per pass) in the next 2 MiB.
  EXPECT_EQ(data_slot_bytes(s), 4u << 20);
}

TEST(TraceProgram, CheckRefusesWhatTheGuestCannotDo) {
  const auto pte = program("W 0x7f1000000000\n!ptewrite 0x7f1000000000 remap\n");
  EXPECT_THROW(check(Scenario{.guest_pages = GuestPages::k2M, .trace = pte}),
               std::invalid_argument);
  // DONTNEED of anonymous memory would zero the fetched page's instruction.
  const auto code = program("X 0x400000\nW 0x7f1000000000\n");
  Scenario s{.trace = code};
  s.reclaim = {{Madvise::kDontneed, 1}};
  EXPECT_THROW(check(s), std::invalid_argument);
  s.reclaim = {{Madvise::kPageout, 2}};  // keeps contents: allowed
  EXPECT_NO_THROW(check(s));
  s.reclaim = {{Madvise::kPageout, 3}};  // only two pages
  EXPECT_THROW(check(s), std::invalid_argument);
}

}  // namespace
}  // namespace pagesim::validate
