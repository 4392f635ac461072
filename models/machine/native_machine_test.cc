// NativeMachine: the miss loop a native core runs (walk, page fault, walk again) and the
// CR3 it walks from. A 4 KiB page on 4-level paging, PSCs off: a walk from the root reads
// 4 entries; the first touch of an empty address space meets the PML4 entry not present
// (level 4), the OS maps the page (building the PDPT, PD and PT), and the second walk
// succeeds (SDM Vol. 3A 4.10.2.3: the faulting walk cached nothing).
#include "models/machine/native_machine.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <utility>
#include <vector>

#include "base/stats/stats.h"
#include "models/mem/physical_memory.h"

namespace pagesim::machine {
namespace {

constexpr std::uint64_t kMemoryBytes = 1 * kGiB;
constexpr Cycles kRefLatency{100};

NativeMachineParams params() {
  NativeMachineParams p;
  p.walker.pwc.enabled = false;
  p.levels = 4;
  p.os.thp = os::Thp::kNever;
  p.os.memory.bytes = kMemoryBytes;
  p.memory_latency = kRefLatency;
  return p;
}

struct Fixture {
  stats::Group root{nullptr, ""};
  mem::PhysicalMemory memory{kMemoryBytes};
  NativeMachine machine{params(), memory, nullptr, &root};
};

class FaultLog final : public NativeTouchObserver {
 public:
  void page_fault(unsigned level, Cycles cycles) override { faults.emplace_back(level, cycles); }
  std::vector<std::pair<unsigned, Cycles>> faults;
};

TEST(NativeMachine, FirstTouchFaultsThenWalksAgain) {
  Fixture f;
  f.machine.load_cr3(0);
  FaultLog log;
  const NativeTouchResult t = f.machine.touch(Gva(0x7f0000001000), AccessKind::kRead, 0, &log);
  EXPECT_EQ(t.outcome, NativeTouchResult::Outcome::kOk);
  EXPECT_EQ(t.walks, 2u);
  EXPECT_EQ(t.page_faults, 1u);
  // The faulting walk read the PML4 entry only; the second, all four.
  EXPECT_EQ(t.walk_cycles, Cycles(5 * kRefLatency.count()));
  EXPECT_EQ(t.walk.refs, 4u);
  ASSERT_EQ(log.faults.size(), 1u);
  EXPECT_EQ(log.faults[0].first, 4u);
  EXPECT_EQ(t.cycles, t.walk_cycles + log.faults[0].second);
  EXPECT_EQ(t.translation.size, PageSize::k4K);
  const auto want = f.machine.translate_debug(Gva(0x7f0000001000));
  ASSERT_TRUE(want.has_value());
  EXPECT_EQ(want->page_base, t.translation.page_base);
}

TEST(NativeMachine, MappedPageWalksOnce) {
  Fixture f;
  f.machine.load_cr3(0);
  f.machine.touch(Gva(0x1000), AccessKind::kWrite);
  const NativeTouchResult t = f.machine.touch(Gva(0x1000), AccessKind::kRead);
  EXPECT_EQ(t.walks, 1u);
  EXPECT_EQ(t.page_faults, 0u);
  EXPECT_EQ(t.cycles, t.walk_cycles);
  EXPECT_EQ(t.cycles, Cycles(4 * kRefLatency.count()));
}

TEST(NativeMachine, Cr3SelectsTheAddressSpace) {
  Fixture f;
  const Hpa first = f.machine.load_cr3(1);
  f.machine.touch(Gva(0x2000), AccessKind::kRead, 1);
  EXPECT_TRUE(f.machine.translate_debug(Gva(0x2000)).has_value());
  const Hpa second = f.machine.load_cr3(2);
  EXPECT_NE(first, second);
  EXPECT_EQ(f.machine.cr3(), second);
  EXPECT_FALSE(f.machine.translate_debug(Gva(0x2000)).has_value());  // not mapped in 2
  EXPECT_EQ(f.machine.load_cr3(1), first);                           // the same root again
  EXPECT_TRUE(f.machine.translate_debug(Gva(0x2000)).has_value());
}

// machine::Machine::handle: the OS's and the walker's part of the guest events; the core
// keeps the TLBs and applies the flush answered.
TEST(NativeMachine, HandlesTheOsEventsAndRefusesMemslots) {
  Fixture f;
  using Kind = GuestEvent::Kind;
  EXPECT_TRUE(f.machine.models(Kind::kCr3));
  EXPECT_TRUE(f.machine.models(Kind::kExit));
  EXPECT_FALSE(f.machine.models(Kind::kMemslotAdd));
  EXPECT_FALSE(f.machine.models(Kind::kMemslotDelete));
  EXPECT_FALSE(f.machine.models(Kind::kMemslotMove));
  EXPECT_EQ(f.machine.host_view().mm, nullptr);  // no host: the host events are refused
  const Hpa root = f.machine.load_cr3(1);
  EXPECT_EQ(f.machine.handle({.kind = Kind::kCr3, .pcid = 2}).flush, TlbFlush::none());
  EXPECT_NE(f.machine.cr3(), root);
  f.machine.touch(Gva(0x2000), AccessKind::kRead, 2);
  const EventResult unmap =
      f.machine.handle({.kind = Kind::kPteUnmap, .pcid = 2, .gva = Gva(0x2000)});
  EXPECT_EQ(unmap.cycles, Cycles());
  EXPECT_EQ(unmap.flush, TlbFlush::none());  // entries stay until the trace's INVLPG
  EXPECT_FALSE(f.machine.translate_debug(Gva(0x2000)).has_value());
  // Teardown of the current address space: its PCID's flush, and CR3 on a fresh root.
  const EventResult exit = f.machine.handle({.kind = Kind::kExit, .pcid = 2, .asid = 2});
  EXPECT_EQ(exit.flush, TlbFlush::one_pcid(2));
  EXPECT_EQ(exit.requests.owed, Cycles());
  EXPECT_THROW(f.machine.handle({.kind = Kind::kMemslotAdd}), std::logic_error);
}

TEST(NativeMachine, StatisticsUnderTheParent) {
  Fixture f;
  f.machine.load_cr3(0);
  f.machine.touch(Gva(0x3000), AccessKind::kRead);
  bool walker = false;
  bool os = false;
  for (const auto& row : stats::collect(f.root)) {
    walker |= row.path.starts_with("walker.");
    os |= row.path.starts_with("os.");
  }
  EXPECT_TRUE(walker);
  EXPECT_TRUE(os);
}

}  // namespace
}  // namespace pagesim::machine
