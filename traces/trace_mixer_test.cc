// TraceMixer: the interleaving and the context-switch events, derived by hand.
#include "traces/trace_mixer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "traces/test_util.h"

namespace pagesim::traces {
namespace {

using ::testing::HasSubstr;

Record cr3(std::uint64_t asid) { return Record::event(EventOp::kCr3, asid); }
Record vm(std::uint64_t index) { return Record::event(EventOp::kVm, index); }
Record cpu(std::uint64_t index) { return Record::event(EventOp::kCpu, index); }

// The mix of text traces `texts`, input i in VM vms[i] on CPU cpus[i] (0 if cpus is empty)
// with address space asids[i].
std::vector<Record> mix(const std::vector<std::string>& texts, std::vector<std::uint64_t> asids,
                        std::vector<std::uint64_t> vms, std::uint64_t quantum,
                        std::size_t batch = 1000, std::vector<std::uint64_t> cpus = {}) {
  ScratchDir dir;
  std::vector<MixSource> sources;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string path = dir.file("in" + std::to_string(i) + ".trace");
    write_bytes(path, texts[i]);
    sources.push_back(MixSource{open_trace(path), asids[i], vms[i], cpus.empty() ? 0 : cpus[i]});
  }
  TraceMixer mixer(std::move(sources), quantum);
  return read_all(mixer, batch);
}

TEST(TraceMixer, RoundRobinByQuantum) {
  // a has 5 accesses, b 3; quantum 2. Slices: a0 a1 | b0 b1 | a2 a3 | b2 | a4, each after
  // a switch of address space: 5 !cr3 (asid 0 at the start, so a's first slice switches).
  const std::vector<Record> expected = {
      cr3(1),       {0xa0, 8, R}, {0xa1, 8, R}, cr3(2),       {0xb0, 8, W}, {0xb1, 8, W}, cr3(1),
      {0xa2, 8, R}, {0xa3, 8, R}, cr3(2),       {0xb2, 8, W}, cr3(1),       {0xa4, 8, R},
  };
  const std::string a = "R 0xa0\nR 0xa1\nR 0xa2\nR 0xa3\nR 0xa4\n";
  const std::string b = "W 0xb0\nW 0xb1\nW 0xb2\n";
  EXPECT_EQ(mix({a, b}, {1, 2}, {0, 0}, 2), expected);
  EXPECT_EQ(mix({a, b}, {1, 2}, {0, 0}, 2, 1), expected);  // one record per read
  // A quantum longer than either: a whole, then b whole; 2 !cr3.
  EXPECT_EQ(mix({a, b}, {1, 2}, {0, 0}, 100).size(), 8u + 2u);
  // Same address space (threads of one process): no !cr3 but the first.
  EXPECT_EQ(mix({a, b}, {1, 1}, {0, 0}, 2).size(), 8u + 1u);
}

TEST(TraceMixer, VmsAndPassingEvents) {
  // quantum 1; a (asid 1, VM 0) carries an !invlpg, which passes through uncounted; b runs
  // in VM 1 with asid 1; c in VM 0 with asid 3.
  //   a: !cr3 1 (VM 0 was in asid 0), R 0x1
  //   b: !vm 1, !cr3 1 (VM 1 starts in asid 0), R 0x10
  //   c: !vm 0, !cr3 3 (VM 0 is in asid 1), R 0x20         c is done
  //   a: !cr3 1, !invlpg, R 0x2                             a is done
  //   b: !vm 1 (VM 1 is still in asid 1: no !cr3), R 0x11   all done
  // 3 !vm and 4 !cr3 in all.
  const std::vector<Record> expected = {
      cr3(1),      {0x1, 8, R}, vm(1),        cr3(1), {0x10, 8, R},
      vm(0),       cr3(3),      {0x20, 8, R}, cr3(1), Record::event(EventOp::kInvlpg, 0x1000),
      {0x2, 8, R}, vm(1),       {0x11, 8, R},
  };
  EXPECT_EQ(mix({"R 0x1\n!invlpg 0x1000\nR 0x2\n", "R 0x10\nR 0x11\n", "R 0x20\n"}, {1, 1, 3},
                {0, 1, 0}, 1),
            expected);
}

TEST(TraceMixer, AnInputsOwnCr3BecomesItsContext) {
  // x switches itself to asid 5 in its first slice; its next slice restores 5, not 1.
  const std::vector<Record> expected = {
      cr3(1), {0x1, 8, R}, cr3(5), {0x2, 8, R}, cr3(2), {0x9, 8, R}, cr3(5), {0x3, 8, R},
  };
  EXPECT_EQ(mix({"R 0x1\n!cr3 5\nR 0x2\nR 0x3\n", "R 0x9\n"}, {1, 2}, {0, 0}, 2), expected);
}

TEST(TraceMixer, TwoInputsOnTwoCpusOfOneVm) {
  // a: asid 1 on CPU 0; b: asid 2 on CPU 1; both VM 0; quantum 1. CR3 is per CPU, each CPU
  // starts in asid 0 and keeps its own (record.h), so:
  //   a: CPU 0 is current (no !cpu); CPU 0 is in asid 0: !cr3 1; R 0xa0
  //   b: !cpu 1; CPU 1 is in asid 0: !cr3 2; W 0xb0
  //   a: !cpu 0; CPU 0 is still in asid 1: no !cr3; R 0xa1
  //   b: !cpu 1; CPU 1 is still in asid 2: no !cr3; W 0xb1
  const std::vector<Record> expected = {
      cr3(1), {0xa0, 8, R}, cpu(1), cr3(2),       {0xb0, 8, W},
      cpu(0), {0xa1, 8, R}, cpu(1), {0xb1, 8, W},
  };
  const std::string a = "R 0xa0\nR 0xa1\n";
  const std::string b = "W 0xb0\nW 0xb1\n";
  EXPECT_EQ(mix({a, b}, {1, 2}, {0, 0}, 1, 1000, {0, 1}), expected);
  EXPECT_EQ(mix({a, b}, {1, 2}, {0, 0}, 1, 1, {0, 1}), expected);  // one record per read
  // Both in asid 1 (threads of one process on two CPUs): each CPU switches to asid 1 once.
  //   cr3 1, R a0 | cpu 1, cr3 1, W b0 | cpu 0, R a1 | cpu 1, W b1
  EXPECT_EQ(mix({a, b}, {1, 1}, {0, 0}, 1, 1000, {0, 1}), (std::vector<Record>{cr3(1),
                                                                               {0xa0, 8, R},
                                                                               cpu(1),
                                                                               cr3(1),
                                                                               {0xb0, 8, W},
                                                                               cpu(0),
                                                                               {0xa1, 8, R},
                                                                               cpu(1),
                                                                               {0xb1, 8, W}}));
}

TEST(TraceMixer, AnInputsOwnCpuBecomesItsContextAndEachVmKeepsItsCpu) {
  // x (VM 0, CPU 0, asid 1) moves itself to CPU 2 in its first slice; y runs in VM 1. Quantum 2:
  //   x: !cr3 1, R 0x1, !cpu 2 (passes through: x is now on CPU 2, whose asid is 0), R 0x2
  //   y: !vm 1; VM 1 is on its CPU 0 (no !cpu), in asid 0: !cr3 1; R 0x9      y is done
  //   x: !vm 0; VM 0 is still on CPU 2 (no !cpu), in asid 0 = x's: no !cr3; R 0x3
  const std::vector<Record> expected = {
      cr3(1), {0x1, 8, R}, cpu(2), {0x2, 8, R}, vm(1), cr3(1), {0x9, 8, R}, vm(0), {0x3, 8, R},
  };
  EXPECT_EQ(mix({"R 0x1\n!cpu 2\nR 0x2\nR 0x3\n", "R 0x9\n"}, {1, 1}, {0, 1}, 2), expected);
}

TEST(TraceMixer, ParsesInputSpecs) {
  MixInputSpec s = parse_mix_input("a.pgt@asid=3,vm=2", 0);
  EXPECT_EQ(s.path, "a.pgt");
  EXPECT_EQ(s.asid, 3u);
  EXPECT_EQ(s.vm, 2u);
  s = parse_mix_input("dir/a@b.trace", 4);  // no key after the '@': all path
  EXPECT_EQ(s.path, "dir/a@b.trace");
  EXPECT_EQ(s.asid, 5u);  // position 4 -> asid 5
  EXPECT_EQ(s.vm, 0u);
  s = parse_mix_input("csv:x.csv@vm=0x1,vcpu=0", 1);
  EXPECT_EQ(s.path, "csv:x.csv");
  EXPECT_EQ(s.asid, 2u);
  EXPECT_EQ(s.vm, 1u);
  EXPECT_EQ(s.cpu, 0u);
  s = parse_mix_input("a.pgt@cpu=3,vm=1", 0);
  EXPECT_EQ(s.cpu, 3u);
  EXPECT_EQ(s.vm, 1u);
  s = parse_mix_input("a.pgt@vcpu=0xff", 0);  // vcpu= is cpu='s synonym
  EXPECT_EQ(s.cpu, 255u);
  EXPECT_EQ(trace_error_of([] { parse_mix_input("a@cpu=256", 0); }),
            "mix input 'a@cpu=256': cpu 256 is not below 256");
  EXPECT_EQ(trace_error_of([] { parse_mix_input("a@vcpu=256", 0); }),
            "mix input 'a@vcpu=256': vcpu 256 is not below 256");
  EXPECT_EQ(trace_error_of([] { parse_mix_input("a@vm=256", 0); }),
            "mix input 'a@vm=256': vm 256 is not below 256");
  EXPECT_EQ(trace_error_of([] { parse_mix_input("a@pid=1", 0); }),
            "mix input 'a@pid=1': unknown key 'pid' (known: asid, vm, cpu, vcpu)");
  EXPECT_EQ(trace_error_of([] { parse_mix_input("a@asid=x", 0); }),
            "mix input 'a@asid=x': bad value in 'asid=x' (expected 0x-hex or decimal)");
}

}  // namespace
}  // namespace pagesim::traces
