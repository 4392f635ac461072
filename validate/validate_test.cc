// Tests of the parts of pagesim-validate that need no KVM: the guest page-table builder,
// the command-list encoder and the guest code, KVM's binary-statistics format, tracepoint
// specs and ids, host detection, scenario parameters, and the kernel-rules model.
#include <linux/kvm.h>

#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "validate/guest_page_tables.h"
#include "validate/host_aging.h"
#include "validate/host_info.h"
#include "validate/kvm_model.h"
#include "validate/kvm_stats.h"
#include "validate/machine.h"
#include "validate/payload.h"
#include "validate/perf_counters.h"
#include "validate/report.h"
#include "validate/scenario.h"
#include "validate/sim_predictor.h"
#include "validate/timing.h"

namespace pagesim::validate {
namespace {

// A guest-physical memory of `pages` pages from GPA 0.
struct FakeMemory {
  explicit FakeMemory(std::size_t pages) : bytes(pages * 4096) {}
  GpaResolver resolver() {
    return [this](Gpa g) -> std::uint8_t* {
      return g.value() < bytes.size() ? bytes.data() + g.value() : nullptr;
    };
  }
  std::uint64_t at(std::uint64_t gpa) const {
    std::uint64_t v;
    std::memcpy(&v, bytes.data() + gpa, 8);
    return v;
  }
  std::vector<std::uint8_t> bytes;
};

TEST(GuestPageTables, FourLevelsFromThePoolInOrder) {
  FakeMemory mem(64);
  Gpa next(0x10000);
  GuestPageTables t(mem.resolver(), &next, Gpa(0x20000));
  EXPECT_EQ(t.root(), Gpa(0x10000));
  t.map(Gva(0x7f0000001000), Gpa(0x3000), GuestPageTables::Size::k4K, kPteWritable | kPteUser);
  EXPECT_EQ(t.table_pages(), 4u);
  EXPECT_EQ(next, Gpa(0x14000));
  // PML4 index 254 -> PDPT at 0x11000, index 0 -> PD 0x12000 -> PT 0x13000, index 1.
  EXPECT_EQ(mem.at(0x10000 + 8 * 254) & kPteAddrMask, 0x11000u);
  EXPECT_EQ(mem.at(0x13000 + 8) & kPteAddrMask, 0x3000u);
  EXPECT_EQ(mem.at(0x13000 + 8) & 0xfff, kPtePresent | kPteWritable | kPteUser);
  EXPECT_EQ(t.translate(Gva(0x7f0000001234)), Gpa(0x3234));
  EXPECT_EQ(t.leaf_entry(Gva(0x7f0000001000)), Gpa(0x13008));
  EXPECT_FALSE(t.translate(Gva(0x7f0000002000)).has_value());
}

TEST(GuestPageTables, TwoMegabytePagesAndSharedSubtrees) {
  FakeMemory mem(64);
  Gpa next(0x10000);
  GuestPageTables a(mem.resolver(), &next, Gpa(0x40000));
  a.map(Gva(0x200000), Gpa(0x400000), GuestPageTables::Size::k2M, kPteWritable);
  EXPECT_EQ(a.table_pages(), 3u);  // PML4, PDPT, PD
  EXPECT_EQ(a.translate(Gva(0x212345)), Gpa(0x412345));
  EXPECT_EQ(a.leaf_entry(Gva(0x200000)), Gpa(0x12000 + 8));
  GuestPageTables b(mem.resolver(), &next, Gpa(0x40000));
  b.share_pml4e(a, Gva(0));
  EXPECT_EQ(b.table_pages(), 1u);
  EXPECT_EQ(b.translate(Gva(0x212345)), Gpa(0x412345));
  EXPECT_THROW(a.map(Gva(0x201000), Gpa(0x1000), GuestPageTables::Size::k4K, 0),
               std::invalid_argument);
  EXPECT_THROW(a.map(Gva(0x1000), Gpa(0x1000), GuestPageTables::Size::k2M, 0),
               std::invalid_argument);
}

TEST(GuestPageTables, PoolExhaustionIsAnError) {
  FakeMemory mem(64);
  Gpa next(0x10000);
  GuestPageTables t(mem.resolver(), &next, Gpa(0x12000));
  EXPECT_THROW(t.map(Gva(0x1000), Gpa(0x1000), GuestPageTables::Size::k4K, 0), std::runtime_error);
}

TEST(CommandList, EncodesOpsInTheLowBits) {
  CommandList l;
  l.access(Op::kRead, Gva(0x7f0000000000));
  l.access(Op::kReadWrite, Gva(0x1000));
  l.store(Gva(0x101008), 0x5003);
  l.invlpg(Gva(0x2000));
  l.cr3(Gpa(0x104000));
  l.end();
  const std::vector<std::uint64_t> want = {0x7f0000000001, 0x1003, 0x4,      0x101008,
                                           0x5003,         0x2005, 0x104006, 0x0};
  EXPECT_EQ(l.words(), want);
  EXPECT_EQ(CommandList::op_of(want[6]), Op::kCr3);
  EXPECT_EQ(CommandList::address_of(want[6]), 0x104000u);
  EXPECT_THROW(l.access(Op::kRead, Gva(0x1008)), std::invalid_argument);
  EXPECT_THROW(l.store(Gva(0x1004), 0), std::invalid_argument);
  EXPECT_THROW(l.access(Op::kEnd, Gva(0x1000)), std::invalid_argument);
}

TEST(CommandList, NeutralizedKeepsTheLengthAndTheHandlerCalls) {
  CommandList l;
  l.access(Op::kWrite, Gva(0x1000));
  l.store(Gva(0x2008), 7);
  l.invlpg(Gva(0x3000));
  l.cr3(Gpa(0x9000));
  l.sys_nop();
  l.end();
  const CommandList n = l.neutralized(Gva(0x600000000000), Gpa(0x8000));
  const std::vector<std::uint64_t> want = {8, 8, 8, 8, 0x600000000005, 0x8006, 7, 0};
  EXPECT_EQ(n.words(), want);
  EXPECT_EQ(n.bytes(), l.bytes());
}

// kChase (--timing --guest): the start address with the op, then the count the guest
// overwrites with its TSC ticks; the baseline skips both words; the predictors refuse it.
TEST(CommandList, ChaseIsTwoWordsAndOnlyForTiming) {
  CommandList l;
  l.chase(Gva(0x7f0000000040), 2048);
  l.chase(Gva(0), 2048);
  l.end();
  const std::vector<std::uint64_t> want = {0x7f000000004a, 2048, 0xa, 2048, 0};
  EXPECT_EQ(l.words(), want);
  const std::vector<std::uint64_t> skipped = {8, 8, 8, 8, 0};
  EXPECT_EQ(l.neutralized(Gva(0x600000000000), Gpa(0x8000)).words(), skipped);
  EXPECT_THROW(l.chase(Gva(0x1000), 0), std::invalid_argument);
  EXPECT_THROW(l.chase(Gva(0x1008), 1), std::invalid_argument);
  CommandHandlers h{.touch = [](Gva, bool) {},
                    .fetch = nullptr,
                    .store = [](Gva, std::uint64_t) {},
                    .invlpg = [](Gva) {},
                    .cr3 = [](Gpa) {}};
  EXPECT_THROW(replay_commands(l, h), std::invalid_argument);
}

// The guest runs a chain and times it: every burst's word is overwritten with its ticks. A
// dependent load takes at least 4 core cycles (L1 load-to-use), more than one TSC tick at
// any clock ratio an x86 core runs at, so a burst of 2048 loads takes more than 2048 ticks;
// a word left at its count (2048) would mean the guest never ran the burst.
TEST(GuestTiming, TheGuestRunsAndTimesTheChain) {
  Scenario s;
  s.pages = 4;  // 16 KiB: 256 lines
  const std::uint64_t lines = s.pages * 4096 / 64;
  try {
    const GuestChainRun run = run_guest_chain(s, chain_order(lines, 1), 3, 2048);
    ASSERT_EQ(run.ticks.size(), 3u);
    for (std::uint64_t t : run.ticks) EXPECT_GT(t, 2048u);
  } catch (const KvmUnavailable& e) {
    GTEST_SKIP() << "no KVM here: " << e.what;
  }
}

TEST(GuestCode, EntryPointsAndListSlotInsideTheCode) {
  const GuestCode c = guest_code();
  ASSERT_GT(c.bytes.size(), 16u);
  EXPECT_LE(c.bytes.size(), 4096u);  // one guest page
  EXPECT_EQ(c.user_entry, 0u);
  EXPECT_LT(c.int3_handler, c.bytes.size());
  EXPECT_EQ(c.list_base % 8, 0u);
  EXPECT_EQ(c.list_base + 8, c.bytes.size());
  // The handler ends in iretq (48 cf) and its exit is OUT imm8 to the end port (e6 e9).
  const std::vector<std::uint8_t> handler(c.bytes.begin() + static_cast<long>(c.int3_handler),
                                          c.bytes.end());
  auto contains = [&](std::vector<std::uint8_t> seq) {
    return std::search(handler.begin(), handler.end(), seq.begin(), seq.end()) != handler.end();
  };
  EXPECT_TRUE(contains({0x48, 0xcf}));
  EXPECT_TRUE(contains({0xe6, static_cast<std::uint8_t>(kEndPort)}));
  EXPECT_TRUE(contains({0x0f, 0x22, 0xdb}));  // mov cr3, rbx
  EXPECT_TRUE(contains({0x0f, 0x01, 0x3b}));  // invlpg [rbx]
}

// A stats file as KVM lays it out: header, id, descriptors (16 bytes + name_size), data.
std::vector<std::uint8_t> stats_file(
    const std::vector<std::pair<std::string, std::uint32_t>>& descs,
    const std::vector<std::uint64_t>& data) {
  const std::uint32_t name_size = 48;
  const std::uint32_t id_offset = 24, desc_offset = id_offset + 48;
  const std::uint32_t data_offset =
      desc_offset + static_cast<std::uint32_t>(descs.size()) * (16 + name_size);
  std::vector<std::uint8_t> f(data_offset + data.size() * 8);
  const std::uint32_t header[6] = {0,         name_size,   static_cast<std::uint32_t>(descs.size()),
                                   id_offset, desc_offset, data_offset};
  std::memcpy(f.data(), header, sizeof header);
  std::memcpy(f.data() + id_offset, "kvm-1234", 8);
  std::uint32_t offset = 0;
  for (std::size_t i = 0; i < descs.size(); ++i) {
    std::uint8_t* d = f.data() + desc_offset + i * (16 + name_size);
    const std::uint32_t flags = descs[i].second;
    const std::uint16_t size = flags == KVM_STATS_TYPE_LOG_HIST ? 2 : 1;
    std::memcpy(d, &flags, 4);
    std::memcpy(d + 6, &size, 2);
    std::memcpy(d + 8, &offset, 4);
    std::memcpy(d + 16, descs[i].first.data(), descs[i].first.size());
    offset += 8u * size;
  }
  std::memcpy(f.data() + data_offset, data.data(), data.size() * 8);
  return f;
}

TEST(KvmStats, ParsesHeaderDescriptorsAndValues) {
  const auto f = stats_file({{"pf_taken", KVM_STATS_TYPE_CUMULATIVE},
                             {"halt_wait_hist", KVM_STATS_TYPE_LOG_HIST},
                             {"pages_4k", KVM_STATS_TYPE_INSTANT}},
                            {512, 1, 2, 77});
  const KvmStatsLayout l = parse_kvm_stats_layout(f);
  EXPECT_EQ(l.id, "kvm-1234");
  ASSERT_EQ(l.descs.size(), 3u);
  EXPECT_EQ(l.descs[2].name, "pages_4k");
  EXPECT_EQ(l.descs[2].offset, 24u);
  const std::span<const std::uint8_t> data(f.data() + l.data_offset, f.size() - l.data_offset);
  const Counters c = kvm_stats_values(l, data, "vcpu.");
  EXPECT_EQ(c, (Counters{{"vcpu.pf_taken", 512}, {"vcpu.pages_4k", 77}}));  // no histogram
}

TEST(KvmStats, TruncatedOrUnterminatedIsAnError) {
  auto f = stats_file({{"pf_taken", 0}}, {1});
  EXPECT_THROW(parse_kvm_stats_layout(std::span(f.data(), 20)), std::runtime_error);
  EXPECT_THROW(parse_kvm_stats_layout(std::span(f.data(), 24 + 48 + 30)), std::runtime_error);
  std::memset(f.data() + 24 + 48 + 16, 'x', 48);
  EXPECT_THROW(parse_kvm_stats_layout(f), std::runtime_error);
}

TEST(KvmStats, Subtract) {
  EXPECT_EQ(subtract({{"a", 5}, {"b", 3}}, {{"a", 2}}), (Counters{{"a", 3}, {"b", 3}}));
}

TEST(Perf, TracepointSpecs) {
  const TracepointSpec s = parse_tracepoint_spec("kvmmmu:kvm_mmu_get_page/created == 1");
  EXPECT_EQ(s.system, "kvmmmu");
  EXPECT_EQ(s.event, "kvm_mmu_get_page");
  EXPECT_EQ(s.filter, "created == 1");
  EXPECT_EQ(s.name, "kvmmmu.kvm_mmu_get_page.created");
  EXPECT_EQ(parse_tracepoint_spec("kvm:kvm_exit").name, "kvm.kvm_exit");
  EXPECT_THROW(parse_tracepoint_spec("kvm_exit"), std::invalid_argument);
  EXPECT_THROW(parse_tracepoint_spec("kvm:"), std::invalid_argument);
  EXPECT_THROW(parse_tracepoint_spec("kvm:x/"), std::invalid_argument);
}

TEST(Perf, TracepointIds) {
  EXPECT_EQ(parse_tracepoint_id("1234\n"), 1234u);
  EXPECT_EQ(parse_tracepoint_id("7"), 7u);
  EXPECT_FALSE(parse_tracepoint_id("").has_value());
  EXPECT_FALSE(parse_tracepoint_id("12a\n").has_value());
  EXPECT_FALSE(parse_tracepoint_id("99999999999999999999").has_value());
}

TEST(HostInfo, DetectsTheModes) {
  auto host = [](std::map<std::string, std::string> files) {
    return detect_host([files](const std::string& p) -> std::optional<std::string> {
      auto it = files.find(p);
      if (it == files.end()) return std::nullopt;
      return it->second;
    });
  };
  const HostInfo ept = host({{"/sys/module/kvm_intel/parameters/ept", "Y\n"},
                             {"/sys/module/kvm/parameters/tdp_mmu", "Y\n"}});
  EXPECT_TRUE(ept.ept);
  EXPECT_TRUE(ept.tdp_mmu);
  EXPECT_EQ(ept.sim_mode(), "nested");
  const HostInfo npt = host({{"/sys/module/kvm_amd/parameters/npt", "1\n"}});
  EXPECT_TRUE(npt.npt);
  const HostInfo no_ept = host({{"/sys/module/kvm_intel/parameters/ept", "N\n"},
                                {"/sys/module/kvm/parameters/tdp_mmu", "Y\n"}});
  EXPECT_EQ(no_ept.sim_mode(), "shadow");
  EXPECT_FALSE(no_ept.tdp_mmu);  // the TDP MMU needs TDP
  const HostInfo pvm = host({{"/sys/module/kvm_pvm/parameters/force", "N\n"},
                             {"/sys/module/kvm/parameters/mmio_caching", "N\n"}});
  EXPECT_TRUE(pvm.pvm);
  EXPECT_FALSE(pvm.mmio_caching);
  EXPECT_EQ(pvm.sim_mode(), "shadow");
  EXPECT_EQ(host({}).kvm_module, "");
  // transparent_hugepage/use_zero_page: Linux's default 1 when the file is absent.
  EXPECT_TRUE(host({}).thp_use_zero_page);
  EXPECT_FALSE(
      host({{"/sys/kernel/mm/transparent_hugepage/use_zero_page", "0\n"}}).thp_use_zero_page);
  EXPECT_TRUE(
      host({{"/sys/kernel/mm/transparent_hugepage/use_zero_page", "1\n"}}).thp_use_zero_page);
  // fault_around_bytes from debugfs; 64 KiB (Linux's default) when unreadable or not a
  // value the kernel can hold (a power of two, 4 KiB to 2 MiB).
  EXPECT_EQ(host({}).fault_around_bytes, 65536u);
  EXPECT_FALSE(host({}).fault_around_read);
  const HostInfo around = host({{"/sys/kernel/debug/fault_around_bytes", "16384\n"}});
  EXPECT_EQ(around.fault_around_bytes, 16384u);
  EXPECT_TRUE(around.fault_around_read);
  EXPECT_EQ(host({{"/sys/kernel/debug/fault_around_bytes", "12288\n"}}).fault_around_bytes, 65536u);
  EXPECT_EQ(host({{"/sys/kernel/debug/fault_around_bytes", "x"}}).fault_around_bytes, 65536u);
}

TEST(Scenario, ParsesAndChecks) {
  EXPECT_EQ(parse_reclaim("dontneed:64")->pages, 64u);
  EXPECT_EQ(parse_reclaim("PAGEOUT:1")->action, Madvise::kPageout);
  EXPECT_FALSE(parse_reclaim("dontneed").has_value());
  EXPECT_FALSE(parse_reclaim("evict:3").has_value());
  EXPECT_FALSE(parse_reclaim("free:x").has_value());
  Scenario s{.pages = 4, .reclaim = {{Madvise::kFree, 5}}};
  EXPECT_THROW(check(s), std::invalid_argument);
  for (const Scenario& p : presets()) EXPECT_NO_THROW(check(p)) << p.name;
}

TEST(Scenario, RepeatedActionsHavePhasesOfTheirOwn) {
  const Scenario s{
      .pages = 8,
      .reclaim = {{Madvise::kDontneed, 1}, {Madvise::kFree, 2}, {Madvise::kDontneed, 3}}};
  std::vector<std::string> names;
  for (const PhaseInfo& p : phases_of(s)) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"pass1", "madvise-dontneed", "madvise-free",
                                             "madvise-dontneed-2", "pass2"}));
}

TEST(Scenario, StrideAndRandomOrders) {
  const Scenario stride{.pages = 3, .pattern = Pattern::kStride2M};
  const auto pages = data_pages(stride);
  EXPECT_EQ(pages[2].gva, Gva(kDataGva + 2 * (2u << 20)));
  EXPECT_EQ(pages[2].gpa, Gpa(kDataGpa + 2 * 4096));
  const Scenario random{.pages = 64, .pattern = Pattern::kRandom};
  auto order = touch_order(random);
  EXPECT_NE(order, touch_order(Scenario{.pages = 64}));
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order, touch_order(Scenario{.pages = 64}));  // a permutation
}

// --pages is bounded by the layout: slot 1 (command list, page-table pool) below the data
// at 1 GiB; stride2m over 2 MiB guest pages by its 1 GiB data slot.
TEST(Scenario, PagesBoundedByTheLayout) {
  const Scenario one{.op = Op::kWrite};
  const std::uint64_t max = max_pages(one);
  EXPECT_GT(max, 250000u);
  EXPECT_LT(max, 262144u);
  EXPECT_LE(kSysSlotGpa + sys_slot_bytes(Scenario{.pages = max}), kDataGpa);
  EXPECT_GT(kSysSlotGpa + sys_slot_bytes(Scenario{.pages = max + 1}), kDataGpa);
  EXPECT_NO_THROW(check(Scenario{.pages = max}));
  try {
    check(Scenario{.pages = max + 1});
    ADD_FAILURE() << "past the bound";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("at most " + std::to_string(max)), std::string::npos);
  }
  // Two trees: twice the tables.
  const Scenario two{.two_cr3 = true, .passes = 3};
  EXPECT_LT(max_pages(two), max / 2 + 1000);
  EXPECT_GT(max_pages(two), max / 2 - 1000);
  EXPECT_EQ(max_pages(Scenario{.pattern = Pattern::kStride2M, .guest_pages = GuestPages::k2M}),
            512u);
  EXPECT_THROW(check(Scenario{.pages = 0}), std::invalid_argument);
  EXPECT_THROW(check(Scenario{.pages = 1000000000000ull}), std::invalid_argument);
  // K from 1 to --pages.
  EXPECT_THROW(check(Scenario{.pages = 4, .reclaim = {{Madvise::kFree, 0}}}),
               std::invalid_argument);
  EXPECT_THROW(check(Scenario{.pages = 4, .pte_rewrite = PteRewrite::kCr3, .rewrite_pages = 0}),
               std::invalid_argument);
  EXPECT_NO_THROW(check(Scenario{.pages = 4, .pte_rewrite = PteRewrite::kCr3, .rewrite_pages = 4}));
  // The presets' slot 1 is what it was before the bound was derived (their counts stay).
  EXPECT_EQ(sys_slot_bytes(*find_preset("seq-write")), 4u << 20);
  EXPECT_EQ(sys_slot_bytes(*find_preset("guest2m-write")), 6u << 20);
  EXPECT_EQ(sys_slot_bytes(*find_preset("two-cr3")), 6u << 20);
}

// The sample: valid scenarios that together take every value of every option, the same
// for a seed on every run.
TEST(Scenario, SampleCoversEveryOptionValidly) {
  std::uint64_t state = 1;
  std::set<std::string> seen;
  bool pages_one = false, pages_max = false, several_reclaims = false;
  std::vector<std::string> first;
  for (int i = 0; i < 2000; ++i) {
    const Scenario s = draw_scenario(state);
    ASSERT_NO_THROW(check(s)) << describe_options(s);
    if (i < 20) first.push_back(describe_options(s));
    seen.insert(std::string("pattern ") + to_string(s.pattern));
    seen.insert(std::string("op ") + op_name(s.op));
    seen.insert(s.guest_pages == GuestPages::k4K ? "4k" : "2m");
    seen.insert(s.host_thp ? "thp on" : "thp off");
    seen.insert(s.backing == HostMemory::Kind::kAnon ? "anon" : "memfd");
    for (const ReclaimAction& r : s.reclaim) {
      seen.insert(std::string("reclaim ") + to_string(r.action));
      if (r.pages == s.pages) seen.insert("reclaim all");
    }
    several_reclaims |= s.reclaim.size() >= 3;
    if (s.memslot_readd) seen.insert("memslot");
    seen.insert(std::string("rewrite ") + to_string(s.pte_rewrite));
    if (s.two_cr3) seen.insert("two-cr3");
    if (s.hole_pages == 96) seen.insert("hole 96");
    if (s.hole_pages == 1) seen.insert("hole 1");
    seen.insert("passes " + std::to_string(s.passes));
    pages_one |= s.pages == 1;
    pages_max |= s.pages == max_pages(s) && s.pages > 100000;
  }
  for (const char* v : {"pattern seq",
                        "pattern random",
                        "pattern stride2m",
                        "op read",
                        "op write",
                        "op rw",
                        "4k",
                        "2m",
                        "thp on",
                        "thp off",
                        "anon",
                        "memfd",
                        "reclaim dontneed",
                        "reclaim free",
                        "reclaim pageout",
                        "reclaim remove",
                        "reclaim all",
                        "memslot",
                        "rewrite none",
                        "rewrite invlpg",
                        "rewrite cr3",
                        "two-cr3",
                        "hole 1",
                        "hole 96",
                        "passes 1",
                        "passes 16"}) {
    EXPECT_TRUE(seen.count(v)) << v;
  }
  EXPECT_TRUE(pages_one);
  EXPECT_TRUE(pages_max);
  EXPECT_TRUE(several_reclaims);
  std::uint64_t again = 1;
  for (const std::string& o : first) EXPECT_EQ(describe_options(draw_scenario(again)), o);
  std::uint64_t other = 2;
  EXPECT_NE(describe_options(draw_scenario(other)), first[0]);
}

// A predictor's counters of the phase named `phase` of `s` (no KVM).
template <class Predictor, class... Args>
Counters phase_counters(const Scenario& s, const std::string& phase, Args... args) {
  GuestLayout layout(s);
  Predictor predictor(s, layout, args...);
  const auto phases = phases_of(s);
  const auto out = predictor.predict(phases);
  for (std::size_t i = 0; i < phases.size(); ++i) {
    if (phases[i].name == phase) return out[i];
  }
  ADD_FAILURE() << "no phase " << phase;
  return {};
}

// The model alone (no KVM): the counts docs/validation.md derives by hand.
Counters predict_phase(const Scenario& s, const std::string& phase) {
  return phase_counters<KvmShadowModel>(s, phase, HostParams{});
}

TEST(KvmShadowModel, FirstTouchesFaultOncePerPage) {
  const Counters c = predict_phase(Scenario{.pages = 64, .op = Op::kWrite}, "pass1");
  EXPECT_EQ(c.at("vcpu.pf_fixed"), 64);
  EXPECT_EQ(c.at("kvmmmu.kvm_mmu_get_page.created"), 3);  // data PDPT, PD, PT
  EXPECT_EQ(c.at("rusage.minflt"), 64);
  EXPECT_EQ(predict_phase(Scenario{.pages = 64, .op = Op::kWrite}, "pass2").at("vcpu.pf_taken"), 0);
}

TEST(KvmShadowModel, ZeroPageThenCopyOnWriteRetries) {
  const Counters c = predict_phase(Scenario{.pages = 16, .op = Op::kReadWrite}, "pass1");
  EXPECT_EQ(c.at("vcpu.pf_taken"), 48);  // read, write (COW: retry), write again
  EXPECT_EQ(c.at("vcpu.pf_fixed"), 32);
  EXPECT_EQ(c.at("rusage.minflt"), 32);
  // 16 zaps of the zero-page SPTEs, and 2 write protections: with a short command list the
  // data's PD and PT pages sit in the list's prefetch group, mapped writable by the
  // warm-up, until KVM shadows them (this host measures 18 too).
  EXPECT_EQ(c.at("vm.remote_tlb_flush_requests"), 18);
}

TEST(KvmShadowModel, PrefetchRefillsResidentPagesEightAtATime) {
  const Scenario s{.pages = 64, .op = Op::kWrite, .reclaim = {{Madvise::kFree, 32}}};
  const Counters madv = predict_phase(s, "madvise-free");
  EXPECT_EQ(madv.at("vm.pages_4k"), -32);
  EXPECT_EQ(madv.at("vm.remote_tlb_flush_requests"), 1);
  const Counters c = predict_phase(s, "pass2");
  EXPECT_EQ(c.at("vcpu.pf_fixed"), 4);
  EXPECT_EQ(c.at("kvmmmu.kvm_mmu_set_spte"), 32);
}

TEST(KvmShadowModel, UnsyncThenSyncOnCr3Reload) {
  const Scenario s{
      .pages = 64, .op = Op::kWrite, .pte_rewrite = PteRewrite::kCr3, .rewrite_pages = 4};
  const Counters c = predict_phase(s, "pte-cr3");
  EXPECT_EQ(c.at("kvmmmu.kvm_mmu_unsync_page"), 1);
  EXPECT_EQ(c.at("kvmmmu.kvm_mmu_sync_page"), 1);
  EXPECT_EQ(predict_phase(s, "pass2").at("vcpu.pf_fixed"), 4);
}

// The simulator (pagesim's shadow machine over the same guest image), no KVM: the same
// hand-derived counts as the kernel-rules model's above.
Counters simulate_phase(const Scenario& s, const std::string& phase) {
  return phase_counters<SimulatorPredictor>(s, phase);
}

TEST(SimulatorPredictor, FirstTouchesFaultOncePerPage) {
  const Scenario s{.pages = 64, .op = Op::kWrite};
  const Counters c = simulate_phase(s, "pass1");
  EXPECT_EQ(c.at("vcpu.pf_fixed"), 64);
  EXPECT_EQ(c.at("vcpu.exits"), 64);
  EXPECT_EQ(c.at("kvmmmu.kvm_mmu_get_page.created"), 3);  // data PDPT, PD, PT
  EXPECT_EQ(c.at("rusage.minflt"), 64);
  EXPECT_EQ(c.at("vm.pages_4k"), 64);
  EXPECT_EQ(simulate_phase(s, "pass2").at("vcpu.pf_taken"), 0);
}

TEST(SimulatorPredictor, ZeroPageThenCopyOnWriteRetries) {
  const Counters c = simulate_phase(Scenario{.pages = 16, .op = Op::kReadWrite}, "pass1");
  EXPECT_EQ(c.at("vcpu.pf_taken"), 48);  // read, write (COW: retry), write again
  EXPECT_EQ(c.at("vcpu.pf_fixed"), 32);
  EXPECT_EQ(c.at("rusage.minflt"), 32);  // the zero page mapped, then copied
}

TEST(SimulatorPredictor, UnsyncThenSyncOnCr3Reload) {
  const Scenario s{
      .pages = 64, .op = Op::kWrite, .pte_rewrite = PteRewrite::kCr3, .rewrite_pages = 4};
  const Counters c = simulate_phase(s, "pte-cr3");
  EXPECT_EQ(c.at("kvmmmu.kvm_mmu_unsync_page"), 1);
  EXPECT_EQ(c.at("kvmmmu.kvm_mmu_sync_page"), 1);
  EXPECT_EQ(c.at("kvmmmu.kvm_mmu_get_page"), 0);  // the same CR3: no lookup
  EXPECT_EQ(simulate_phase(s, "pass2").at("vcpu.pf_fixed"), 4);
}

TEST(SimulatorPredictor, RecyclingTakesTheCodePagesTableAndTheNextFetchRefaultsIt) {
  const Scenario s{.pages = 64, .pattern = Pattern::kStride2M, .op = Op::kWrite, .passes = 3};
  const Counters c = simulate_phase(s, "pass1");
  // The memslots hold well under 3200 pages: KVM's limit is KVM_MIN_ALLOC_MMU_PAGES, 64.
  // The warm-up leaves the root and the low PDPT, PD and PT (code, command list): 4. Touch
  // j (1-based) of pass 1 needs its own PT (the first also the data PDPT and PD): 6 + j
  // live after it. make_mmu_pages_available before the fault of touch 55 finds 4 free
  // (60 live): kvm_mmu_zap_oldest_mmu_pages(25 - 4 = 21) from the oldest, the root kept:
  // low PDPT, PD, PT, data PDPT, PD, PT1..PT16. That fault rebuilds the data PDPT, PD and
  // makes PT55; the next instruction fetch faults on the code page (low PDPT, PD, PT
  // again), then the next command word's load on the list page (a leaf). Faults: 64 + 2.
  // Pages created: 3 + 63 PTs + 2 + 3 = 71.
  EXPECT_EQ(c.at("vm.mmu_recycled"), 21);
  EXPECT_EQ(c.at("vcpu.pf_taken"), 66);
  EXPECT_EQ(c.at("vcpu.pf_fixed"), 66);
  EXPECT_EQ(c.at("kvmmmu.kvm_mmu_get_page.created"), 71);
}

TEST(SimulatorPredictor, MemslotReaddZapsEverythingAndTheSlotRefaults) {
  const Scenario s{.pages = 64, .op = Op::kWrite, .memslot_readd = true};
  const Counters pass1 = simulate_phase(s, "pass1");
  const Counters zap = simulate_phase(s, "memslot");
  // kvm_mmu_zap_all_fast: every leaf goes, the data's 64 and the VMM's own.
  EXPECT_LT(zap.at("vm.pages_4k"), -64);
  // Every leaf zapped comes back in pass 2 (the VMM's pages are resident: faults and
  // prefetch, no host faults).
  const Counters pass2 = simulate_phase(s, "pass2");
  EXPECT_EQ(pass2.at("vm.pages_4k"), -zap.at("vm.pages_4k"));
  EXPECT_EQ(pass2.at("rusage.minflt"), 0);
  EXPECT_EQ(pass1.at("vm.pages_4k"), 64);
}

TEST(SimulatorPredictor, MadvFreeZapsOnceAndPrefetchRefillsEightAtATime) {
  const Scenario s{.pages = 64, .op = Op::kWrite, .reclaim = {{Madvise::kFree, 32}}};
  const Counters madv = simulate_phase(s, "madvise-free");
  EXPECT_EQ(madv.at("vm.pages_4k"), -32);  // the leaves zapped; the pages stay resident
  EXPECT_EQ(madv.at("vm.remote_tlb_flush_requests"), 1);  // one invalidation of the range
  const Counters c = simulate_phase(s, "pass2");
  EXPECT_EQ(c.at("vcpu.pf_fixed"), 4);  // 32 pages, a fault and 7 prefetches per group of 8
  EXPECT_EQ(c.at("kvmmmu.kvm_mmu_set_spte"), 32);
  EXPECT_EQ(c.at("rusage.minflt"), 0);  // resident: no host fault
}

// A memfd is shmem: its pages live in the page cache. After the 64 pages are written in
// pass 1, 32 of them (one contiguous run, one madvise call) lose their VMM mapping:
//   MADV_DONTNEED (zap_page_range_single): one invalidation, the 32 leaves zapped, one
//     flush; the pages stay in the page cache;
//   MADV_REMOVE (shmem_fallocate: unmap_mapping_range, then shmem_truncate_range): the
//     same one invalidation; the pages are freed;
//   MADV_PAGEOUT without swap (reclaim_pages -> shrink_folio_list): try_to_unmap page by
//     page, one invalidation and one flush each, then shmem_writeout finds no swap and the
//     page stays in the page cache.
// In pass 2 each of the 32 pages faults once: GUP's host fault maps it again (a minor
// fault: the cached page, or a new one after the hole punch) and KVM's prefetch stops at
// the first neighbour, which the VMM does not map (the atomic GUP finds no PTE).
struct MemfdCase {
  Madvise action;
  const char* phase;
  std::int64_t flushes;
};

class SimulatorPredictorMemfd : public testing::TestWithParam<MemfdCase> {};

TEST_P(SimulatorPredictorMemfd, UnmapsThirtyTwoPagesThatFaultBackOneByOne) {
  const MemfdCase m = GetParam();
  const Scenario s{.pages = 64,
                   .op = Op::kWrite,
                   .backing = HostMemory::Kind::kMemfd,
                   .reclaim = {{m.action, 32}}};
  const Counters pass1 = simulate_phase(s, "pass1");
  EXPECT_EQ(pass1.at("rusage.minflt"), 64);  // shmem_fault allocates each page
  EXPECT_EQ(pass1.at("vm.pages_2m"), 0);
  const Counters madv = simulate_phase(s, m.phase);
  EXPECT_EQ(madv.at("vm.pages_4k"), -32);
  EXPECT_EQ(madv.at("vm.remote_tlb_flush_requests"), m.flushes);
  const Counters pass2 = simulate_phase(s, "pass2");
  EXPECT_EQ(pass2.at("vcpu.pf_taken"), 32);
  EXPECT_EQ(pass2.at("vcpu.pf_fixed"), 32);
  EXPECT_EQ(pass2.at("kvmmmu.kvm_mmu_set_spte"), 32);  // no prefetch
  EXPECT_EQ(pass2.at("rusage.minflt"), 32);
  EXPECT_EQ(pass2.at("vm.pages_4k"), 32);
}

INSTANTIATE_TEST_SUITE_P(Advice, SimulatorPredictorMemfd,
                         testing::Values(MemfdCase{Madvise::kDontneed, "madvise-dontneed", 1},
                                         MemfdCase{Madvise::kRemove, "madvise-remove", 1},
                                         MemfdCase{Madvise::kPageout, "madvise-pageout", 32}),
                         [](const testing::TestParamInfo<MemfdCase>& i) {
                           return std::string(i.param.phase).substr(8);  // "dontneed", ...
                         });

// madvise_free_single_vma refuses shared memory, madvise_remove anonymous memory (EINVAL):
// the phase changes nothing and pass 2 faults nothing.
TEST(SimulatorPredictor, AdviceTheMemoryRefusesDoesNothing) {
  for (const Scenario& s :
       {Scenario{.pages = 64,
       .op = Op::kWrite,
       .backing = HostMemory::Kind::kMemfd,
       .reclaim = {{Madvise::kFree, 32}}},
        Scenario{.pages = 64, .op = Op::kWrite, .reclaim = {{Madvise::kRemove, 32}}}}) {
    const std::string phase =
        s.reclaim[0].action == Madvise::kFree ? "madvise-free" : "madvise-remove";
    const Counters madv = simulate_phase(s, phase);
    EXPECT_EQ(madv.at("vm.pages_4k"), 0) << phase;
    EXPECT_EQ(madv.at("vm.remote_tlb_flush_requests"), 0) << phase;
    EXPECT_EQ(simulate_phase(s, "pass2").at("vcpu.pf_taken"), 0) << phase;
  }
}

// Host THP with transparent_hugepage/use_zero_page = 1 (HostInfo's default): a read of a
// fresh 2 MiB maps the huge zero page (do_huge_pmd_anonymous_page), read-only, one minor
// fault per 2 MiB; KVM maps it read-only and never prefetches it (the atomic GUP asks for
// FOLL_WRITE). A store then allocates the huge page (do_huge_zero_wp_pmd) after one
// invalidation over its 2 MiB, which zaps what maps the zero page and races the store's
// fault (retried).
TEST(SimulatorPredictor, HugeZeroPageReadsFaultPerPageAndOneCopyPerHugePage) {
  // 1024 pages, two 2 MiB ranges: every read faults (no prefetch), 2 huge zero PMDs.
  const Counters read = simulate_phase(Scenario{.pages = 1024, .host_thp = true}, "pass1");
  EXPECT_EQ(read.at("vcpu.pf_fixed"), 1024);
  EXPECT_EQ(read.at("rusage.minflt"), 2);
  EXPECT_EQ(read.at("vm.remote_tlb_flush_requests"), 0);
  // Load then store, per 2 MiB: page 0's load (a fault, a read-only leaf), its store (a
  // fault whose copy zaps that leaf: one flush, the fault retried), the retry (the huge
  // page now, writable: the leaf and 7 prefetched), then one fault per further group of 8
  // pages (63): 66 faults, 65 fixed, 2 minor faults (zero page, copy).
  const Counters rw =
      simulate_phase(Scenario{.pages = 1024, .op = Op::kReadWrite, .host_thp = true}, "pass1");
  EXPECT_EQ(rw.at("vcpu.pf_taken"), 2 * 66);
  EXPECT_EQ(rw.at("vcpu.pf_fixed"), 2 * 65);
  EXPECT_EQ(rw.at("kvmmmu.kvm_mmu_set_spte"), 1024 + 2);  // + the zero page's leaves
  EXPECT_EQ(rw.at("vm.remote_tlb_flush_requests"), 2);
  EXPECT_EQ(rw.at("rusage.minflt"), 2 * 2);
  // 2 MiB guest pages: the huge zero page under a 2 MiB leaf, then the same three faults
  // per 2 MiB (load, store retried, store), 2 fixed.
  const Counters guest2m = simulate_phase(
      Scenario{
          .pages = 1024, .op = Op::kReadWrite, .guest_pages = GuestPages::k2M, .host_thp = true},
      "pass1");
  EXPECT_EQ(guest2m.at("vcpu.pf_taken"), 2 * 3);
  EXPECT_EQ(guest2m.at("vcpu.pf_fixed"), 2 * 2);
  EXPECT_EQ(guest2m.at("vm.pages_2m"), 2);
  EXPECT_EQ(guest2m.at("vm.remote_tlb_flush_requests"), 2);
  EXPECT_EQ(guest2m.at("rusage.minflt"), 2 * 2);
}

TEST(SimulatorPredictor, WithoutUseZeroPageAReadAllocatesTheHugePage) {
  // use_zero_page = 0: the read allocates the huge page, writable, and KVM's prefetch
  // fills each group of 8 after one fault: 1024 / 8 faults, 2 minor faults.
  HostInfo host;
  host.thp_use_zero_page = false;
  const Counters c =
      phase_counters<SimulatorPredictor>(Scenario{.pages = 1024, .host_thp = true}, "pass1", host);
  EXPECT_EQ(c.at("vcpu.pf_fixed"), 1024 / 8);
  EXPECT_EQ(c.at("rusage.minflt"), 2);
}

// MADV_DONTNEED of part of a huge host page (host THP, pages written in pass 1): one
// invalidation of the range itself (zap_page_range_single), then zap_pmd_range splits the
// PMD (__split_huge_pmd: an invalidation over the 2 MiB) and only the advised pages go.
TEST(SimulatorPredictor, DontneedOfPartOfAHugePageDropsOnlyThatPart) {
  // 600 pages, DONTNEED of the first 300: the range's invalidation zaps their 300 leaves
  // (a flush), the split's the other 212 of the first 2 MiB (a second flush); the 88 pages
  // of the second 2 MiB keep theirs.
  const Scenario s{
      .pages = 600, .op = Op::kWrite, .host_thp = true, .reclaim = {{Madvise::kDontneed, 300}}};
  const Counters madv = simulate_phase(s, "madvise-dontneed");
  EXPECT_EQ(madv.at("vm.remote_tlb_flush_requests"), 2);
  EXPECT_EQ(madv.at("vm.pages_4k"), -512);
  // Pass 2: pages 0-299 are gone, each a host fault and a shadow fault of its own (its
  // neighbour is not resident: prefetch stops); page 299's fault prefetches 300-303 (its
  // group of 8, resident pieces); 304-511 fault once per group of 8 (26).
  const Counters pass2 = simulate_phase(s, "pass2");
  EXPECT_EQ(pass2.at("vcpu.pf_fixed"), 300 + 26);
  EXPECT_EQ(pass2.at("rusage.minflt"), 300);
  EXPECT_EQ(pass2.at("vm.pages_4k"), 512);
  // 2 MiB guest pages: the first 2 MiB's huge leaf goes with the range (one flush; the
  // split finds nothing more). Pass 2 maps the 2 MiB with a direct shadow page of 4 KiB
  // leaves: pages 0-255 fault one by one (not resident), then 256-511 once per group of 8
  // (__direct_pte_prefetch, its trailing run too): 256 + 32.
  const Scenario g{.pages = 1024,
                   .op = Op::kWrite,
                   .guest_pages = GuestPages::k2M,
                   .host_thp = true,
                   .reclaim = {{Madvise::kDontneed, 256}}};
  const Counters gmadv = simulate_phase(g, "madvise-dontneed");
  EXPECT_EQ(gmadv.at("vm.remote_tlb_flush_requests"), 1);
  EXPECT_EQ(gmadv.at("vm.pages_2m"), -1);
  const Counters gpass2 = simulate_phase(g, "pass2");
  EXPECT_EQ(gpass2.at("vcpu.pf_fixed"), 256 + 32);
  EXPECT_EQ(gpass2.at("kvmmmu.kvm_mmu_get_page.created"), 1);  // the direct page
  EXPECT_EQ(gpass2.at("vm.pages_4k"), 512);
  EXPECT_EQ(gpass2.at("rusage.minflt"), 256);
}

// A memfd read back after MADV_PAGEOUT (no swap: the 128 pages stay in the page cache,
// unmapped). A read fault of shmem maps the cached pages of its aligned 64 KiB block too
// (do_read_fault -> do_fault_around -> filemap_map_pages; fault_around_bytes 64 KiB, Linux's
// default and HostInfo's): 128 / 16 = 8 minor faults, and as the VMM now maps the
// neighbours writable, KVM's prefetch fills each group of 8 after one fault: 16 faults.
TEST(SimulatorPredictor, SharedMemoryReadsFaultAroundThePageCache) {
  const Scenario s{
      .pages = 512, .backing = HostMemory::Kind::kMemfd, .reclaim = {{Madvise::kPageout, 128}}};
  const Counters c = simulate_phase(s, "pass2");
  EXPECT_EQ(c.at("rusage.minflt"), 128 / 16);
  EXPECT_EQ(c.at("vcpu.pf_fixed"), 128 / 8);
  EXPECT_EQ(c.at("kvmmmu.kvm_mmu_set_spte"), 128);
  // fault_around_bytes = 4096 (no fault-around): each page its own host fault, and KVM's
  // prefetch stops at the unmapped neighbour: 128 faults.
  HostInfo host;
  host.fault_around_bytes = 4096;
  const Counters alone = phase_counters<SimulatorPredictor>(s, "pass2", host);
  EXPECT_EQ(alone.at("rusage.minflt"), 128);
  EXPECT_EQ(alone.at("vcpu.pf_fixed"), 128);
}

// A row passes only when a predictor gave a value and the kernel exported the counter; a
// counter missing on either side is "absent" or "not modelled", never a 0 that passes.
TEST(Report, OnlyPredictedAndMeasuredRowsPass) {
  const Scenario s{.pages = 4, .hole_pages = 1};
  PhaseCounts pass1{.info = PhaseInfo{.kind = PhaseInfo::Kind::kPass, .name = "pass1"},
                    .measured = {},
                    .baseline = {}};
  PhaseCounts hole{.info = PhaseInfo{.kind = PhaseInfo::Kind::kHole, .name = "hole"},
                   .measured = {},
                   .baseline = {}};
  Counters sim, rules;
  for (const std::string& c : compared_counters()) {
    pass1.measured[c] = hole.measured[c] = 1;
    pass1.baseline[c] = hole.baseline[c] = 0;
    sim[c] = 1;
  }
  for (const std::string& c : predicted_counters()) rules[c] = 1;
  pass1.measured.erase("vm.pages_2m");  // not exported by this kernel
  Counters sim1 = sim;
  sim1.erase("vm.mmu_flooded");           // the simulator has no value, the rules model none either
  sim1.erase("kvmmmu.kvm_mmu_get_page");  // the rules model has one
  auto row = [](const ScenarioReport& r, const std::string& phase, const std::string& c) {
    for (const Row& x : r.rows) {
      if (x.phase == phase && x.counter == c) return x;
    }
    ADD_FAILURE() << phase << " " << c;
    return Row{};
  };
  const ScenarioReport r = compare(s, {pass1, hole}, {sim1, sim}, {rules, rules});
  EXPECT_EQ(row(r, "pass1", "vm.pages_2m").verdict, Verdict::kAbsent);
  EXPECT_FALSE(row(r, "pass1", "vm.pages_2m").measured.has_value());
  EXPECT_EQ(row(r, "pass1", "vm.mmu_flooded").verdict, Verdict::kNotModelled);
  EXPECT_FALSE(row(r, "pass1", "vm.mmu_flooded").predicted.has_value());
  EXPECT_EQ(row(r, "pass1", "kvmmmu.kvm_mmu_get_page").source, Predictor::kRules);
  EXPECT_TRUE(row(r, "pass1", "kvmmmu.kvm_mmu_get_page").pass());
  EXPECT_TRUE(row(r, "hole", "vm.mmu_flooded").pass());
  EXPECT_FALSE(r.pass());
  EXPECT_EQ(r.status(), "not modelled");
  // The rules model's fallback is refused where it says it cannot be trusted.
  const ScenarioReport recycled =
      compare(s, {pass1, hole}, {sim1, sim}, {rules, rules}, {}, "recycling");
  EXPECT_EQ(row(recycled, "pass1", "kvmmmu.kvm_mmu_get_page").verdict, Verdict::kNotModelled);
  EXPECT_EQ(row(recycled, "pass1", "kvmmmu.kvm_mmu_get_page").verdict_text(),
            "not modelled: recycling");
  // A host whose MMIO SPTEs the simulator does not model: the hole's rows.
  const ScenarioReport mmio =
      compare(s, {pass1, hole}, {sim, sim}, {rules, rules}, HostConditions{.mmio_caching = true});
  EXPECT_EQ(row(mmio, "hole", "vcpu.pf_taken").verdict, Verdict::kNotModelled);
  EXPECT_EQ(row(mmio, "pass1", "vcpu.pf_taken").verdict, Verdict::kPass);
  // THP everywhere: nothing is modelled.
  EXPECT_FALSE(not_modelled_reason(s, pass1.info, HostConditions{.thp_enabled = "always"}).empty());
  EXPECT_TRUE(not_modelled_reason(s, pass1.info, HostConditions{}).empty());
  // Outside the tolerance: FAIL.
  sim["vcpu.pf_fixed"] = 2;
  const ScenarioReport fail = compare(s, {pass1, hole}, {sim, sim}, {rules, rules});
  EXPECT_EQ(row(fail, "hole", "vcpu.pf_fixed").verdict, Verdict::kFail);
  EXPECT_EQ(fail.status(), "FAIL");
}

TEST(Report, ToleranceAndVerdict) {
  EXPECT_EQ(tolerance_for("vcpu.pf_fixed", 10).above, 0);
  // One exit per host interruption, exact without one (report.cc).
  EXPECT_EQ(tolerance_for("vcpu.exits", 3).above, 3);
  EXPECT_EQ(tolerance_for("vcpu.exits", 12).above, 12);
  EXPECT_EQ(tolerance_for("vcpu.exits", 0).above, 0);
  EXPECT_EQ(tolerance_for("vcpu.exits", 0).below, 0);
  EXPECT_EQ(host_events({{"vcpu.irq_exits", 2}, {"vcpu.preemption_other", 1}, {"vcpu.exits", 9}}),
            3);
  // Flush requests: exact, but one more allowed per involuntary reschedule in a host event.
  EXPECT_EQ(tolerance_for("vm.remote_tlb_flush_requests", 5).above, 0);
  EXPECT_EQ(tolerance_for("vm.remote_tlb_flush_requests", 5, 2).above, 2);
  EXPECT_EQ(tolerance_for("vm.remote_tlb_flush_requests", 5, 2).below, 0);
  EXPECT_EQ(reschedules({{"rusage.nivcsw", 3}}), 3);
  EXPECT_EQ(json_escape("a\"b\\c\n"), "a\\\"b\\\\c\\u000a");
}

// The host's page aging (validate/host_aging.h) clears a leaf's Accessed bit; the next fault
// that rewrites the leaf is then fixed where it would be spurious (mmu_set_spte compares the
// new SPTE with the old one), with one more kvm_mmu_set_spte. It changes the kind of a fault,
// never the number of faults: the three rows pass only as a pair (x, -x, x), and only up to
// the leaves aged.
TEST(Report, HostAgingMovesFaultsFromSpuriousToFixedOnly) {
  const Scenario s{.pages = 4};
  const std::vector<std::string> rows = {"vcpu.pf_fixed", "vcpu.pf_spurious",
                                         "kvmmmu.kvm_mmu_set_spte"};
  auto run = [&](std::int64_t fixed, std::int64_t spurious, std::int64_t set_spte,
                 std::optional<std::int64_t> aged) {
    PhaseCounts p{.info = PhaseInfo{.kind = PhaseInfo::Kind::kPass, .name = "pass2"},
                  .measured = {},
                  .baseline = {},
                  .aged = aged,
                  .baseline_aged = 0};
    Counters sim;
    for (const std::string& c : compared_counters()) p.measured[c] = p.baseline[c] = sim[c] = 0;
    // Predicted: 254 spurious faults (the leaves in place), none fixed.
    sim["vcpu.pf_spurious"] = 254;
    p.measured["vcpu.pf_fixed"] = fixed;
    p.measured["vcpu.pf_spurious"] = spurious;
    p.measured["kvmmmu.kvm_mmu_set_spte"] = set_spte;
    const ScenarioReport r = compare(s, {p}, {sim}, {sim});
    std::map<std::string, Verdict> v;
    for (const Row& x : r.rows) v[x.counter] = x.verdict;
    return v;
  };
  // Two of the 254 leaves were aged: 2 fixed, 252 spurious, 2 set_spte.
  for (const std::string& c : rows) EXPECT_EQ(run(2, 252, 2, 3)[c], Verdict::kPass) << c;
  // Without aging the same counts fail: nothing else turns a spurious fault fixed.
  for (const std::string& c : rows) EXPECT_EQ(run(2, 252, 2, 0)[c], Verdict::kFail) << c;
  // Not counted (no permission): exact as before.
  EXPECT_EQ(run(2, 252, 2, std::nullopt)["vcpu.pf_fixed"], Verdict::kFail);
  // More fixed faults than leaves aged.
  EXPECT_EQ(run(4, 250, 4, 3)["vcpu.pf_fixed"], Verdict::kFail);
  // An extra fault is not a moved one: 2 fixed but 254 spurious still.
  EXPECT_EQ(run(2, 254, 2, 3)["vcpu.pf_fixed"], Verdict::kFail);
  EXPECT_EQ(run(2, 252, 1, 3)["kvmmmu.kvm_mmu_set_spte"], Verdict::kFail);
  // Aging counted in the baseline VM moves the difference the other way.
  EXPECT_EQ(aging_tolerance("vcpu.pf_fixed", 3, 1)->above, 3);
  EXPECT_EQ(aging_tolerance("vcpu.pf_fixed", 3, 1)->below, 1);
  EXPECT_EQ(aging_tolerance("vcpu.pf_spurious", 3, 1)->below, 3);
  EXPECT_FALSE(aging_tolerance("vcpu.exits", 3, 1).has_value());
  EXPECT_FALSE(aging_tolerance("vcpu.pf_fixed", 0, 0).has_value());
}

TEST(HostAging, FilterKeepsNotificationsOverlappingTheSlots) {
  EXPECT_EQ(age_hva_filter({{0x1000, 0x2000}, {0x10000, 0}, {0x20000, 0x1000}}),
            "(start < 0x3000 && end > 0x1000) || (start < 0x21000 && end > 0x20000)");
  EXPECT_EQ(age_hva_filter({}), "");
}

}  // namespace
}  // namespace pagesim::validate

namespace pagesim::validate {
namespace {

// Two vCPUs (--vcpus 2): the phases, each guest phase on one vCPU, in the documented order.
TEST(TwoVcpus, PhasesRunOnOneVcpuEachInOrder) {
  const Scenario s{.pages = 8,
                   .op = Op::kWrite,
                   .reclaim = {{Madvise::kDontneed, 2}},
                   .pte_rewrite = PteRewrite::kInvlpg,
                   .rewrite_pages = 2,
                   .passes = 3,
                   .vcpus = 2};
  std::vector<std::string> names;
  std::vector<int> cpus;
  for (const PhaseInfo& p : phases_of(s)) {
    names.push_back(p.name);
    cpus.push_back(p.cpu);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"cpu0:pass1", "cpu1:pass1", "madvise-dontneed",
                                             "cpu0:pte-invlpg", "cpu1:cr3-reload", "cpu1:pass2",
                                             "cpu0:pass2", "cpu1:pass3", "cpu0:pass3"}));
  EXPECT_EQ(cpus, (std::vector<int>{0, 1, 0, 0, 1, 1, 0, 1, 0}));
  EXPECT_NO_THROW(check(s));
  EXPECT_NE(describe_options(s).find("--vcpus 2"), std::string::npos);
  Scenario bad = s;
  bad.vcpus = 3;
  EXPECT_THROW(check(bad), std::invalid_argument);
  for (const Scenario& p : two_vcpu_presets()) {
    EXPECT_NO_THROW(check(p)) << p.name;
    EXPECT_EQ(find_preset(p.name), &p);
  }
}

// The host's memslot re-add, the hole's loads and --two-cr3's switches with two vCPUs: the
// memslot is a host phase (the VMM's main thread); the hole's loads and each CR3 switch run
// on each vCPU, vCPU 1 first, as the later passes do.
TEST(TwoVcpus, HoleMemslotAndSecondCr3RunOnEachVcpu) {
  const Scenario s{
      .pages = 8, .memslot_readd = true, .two_cr3 = true, .hole_pages = 2, .passes = 3, .vcpus = 2};
  EXPECT_NO_THROW(check(s));
  std::vector<std::string> names;
  std::vector<int> cpus, cr3s;
  for (const PhaseInfo& p : phases_of(s)) {
    names.push_back(p.name);
    cpus.push_back(p.cpu);
    cr3s.push_back(p.cr3);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"cpu0:pass1", "cpu1:pass1", "memslot", "cpu1:hole",
                                             "cpu0:hole", "cpu1:cr3-second", "cpu1:pass2",
                                             "cpu0:cr3-second", "cpu0:pass2", "cpu1:cr3-first",
                                             "cpu1:pass3", "cpu0:cr3-first", "cpu0:pass3"}));
  EXPECT_EQ(cpus, (std::vector<int>{0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0}));
  EXPECT_EQ(cr3s, (std::vector<int>{0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0}));
}

// The prediction per vCPU: KVM's shadow pages are the VM's, so vCPU 1's first pass over the
// pages vCPU 0 wrote finds every shadow leaf there (no fault, no exit, no shadow page), and
// vCPU 0's INVLPGs after the rewrite leave the shared page unsync until vCPU 1's CR3 reload
// syncs it; vCPU 1 then faults on each rewritten page once.
TEST(TwoVcpus, SimulatorSharesShadowPagesBetweenVcpus) {
  const Scenario s{.pages = 64,
                   .op = Op::kWrite,
                   .pte_rewrite = PteRewrite::kInvlpg,
                   .rewrite_pages = 4,
                   .vcpus = 2};
  const Counters c0 = phase_counters<SimulatorPredictor>(s, "cpu0:pass1");
  EXPECT_EQ(c0.at("vcpu.pf_fixed"), 64);
  EXPECT_EQ(c0.at("kvmmmu.kvm_mmu_get_page.created"), 3);
  const Counters c1 = phase_counters<SimulatorPredictor>(s, "cpu1:pass1");
  EXPECT_EQ(c1.at("vcpu.pf_taken"), 0);
  EXPECT_EQ(c1.at("vcpu.exits"), 0);
  EXPECT_EQ(c1.at("kvmmmu.kvm_mmu_get_page"), 0);
  const Counters rw = phase_counters<SimulatorPredictor>(s, "cpu0:pte-invlpg");
  EXPECT_EQ(rw.at("kvmmmu.kvm_mmu_unsync_page"), 1);
  EXPECT_EQ(rw.at("vm.mmu_unsync"), 1);
  const Counters reload = phase_counters<SimulatorPredictor>(s, "cpu1:cr3-reload");
  EXPECT_EQ(reload.at("kvmmmu.kvm_mmu_sync_page"), 1);
  EXPECT_EQ(reload.at("vm.mmu_unsync"), -1);
  EXPECT_EQ(phase_counters<SimulatorPredictor>(s, "cpu1:pass2").at("vcpu.pf_fixed"), 4);
  EXPECT_EQ(phase_counters<SimulatorPredictor>(s, "cpu0:pass2").at("vcpu.pf_taken"), 0);
}

// A host invalidation both vCPUs see: the zap is the VM's (one flush request), and the
// first vCPU back faults the pages in again; the second finds them.
TEST(TwoVcpus, SimulatorDontneedRefaultsOnTheFirstVcpuBack) {
  const Scenario s{
      .pages = 64, .op = Op::kWrite, .reclaim = {{Madvise::kDontneed, 16}}, .vcpus = 2};
  const Counters m = phase_counters<SimulatorPredictor>(s, "madvise-dontneed");
  EXPECT_EQ(m.at("vm.pages_4k"), -16);
  EXPECT_EQ(m.at("vm.remote_tlb_flush_requests"), 1);
  EXPECT_EQ(phase_counters<SimulatorPredictor>(s, "cpu1:pass2").at("vcpu.pf_fixed"), 16);
  EXPECT_EQ(phase_counters<SimulatorPredictor>(s, "cpu0:pass2").at("vcpu.pf_taken"), 0);
}

}  // namespace
}  // namespace pagesim::validate
