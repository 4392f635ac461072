#include "validate/scenario.h"

#include <algorithm>
#include <bit>
#include <set>
#include <stdexcept>

namespace pagesim::validate {

namespace {

constexpr std::uint64_t k4K = 4096;
constexpr std::uint64_t k2M = 2ull << 20;

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t round_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace

const char* to_string(Pattern p) {
  switch (p) {
    case Pattern::kSeq:
      return "seq";
    case Pattern::kRandom:
      return "random";
    case Pattern::kStride2M:
      return "stride2m";
  }
  return "?";
}

const char* to_string(Madvise m) {
  switch (m) {
    case Madvise::kDontneed:
      return "dontneed";
    case Madvise::kFree:
      return "free";
    case Madvise::kPageout:
      return "pageout";
    case Madvise::kRemove:
      return "remove";
  }
  return "?";
}

const char* to_string(PteRewrite r) {
  switch (r) {
    case PteRewrite::kNone:
      return "none";
    case PteRewrite::kInvlpg:
      return "invlpg";
    case PteRewrite::kCr3:
      return "cr3";
  }
  return "?";
}

const char* op_name(Op op) {
  switch (op) {
    case Op::kRead:
      return "read";
    case Op::kWrite:
      return "write";
    case Op::kReadWrite:
      return "rw";
    default:
      return "?";
  }
}

std::optional<Pattern> parse_pattern(const std::string& s) {
  if (s == "seq") return Pattern::kSeq;
  if (s == "random") return Pattern::kRandom;
  if (s == "stride2m") return Pattern::kStride2M;
  return std::nullopt;
}

std::optional<Madvise> parse_madvise(const std::string& s) {
  if (s == "dontneed") return Madvise::kDontneed;
  if (s == "free") return Madvise::kFree;
  if (s == "pageout") return Madvise::kPageout;
  if (s == "remove") return Madvise::kRemove;
  return std::nullopt;
}

std::optional<ReclaimAction> parse_reclaim(const std::string& s) {
  const auto colon = s.find(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string action = s.substr(0, colon);
  std::transform(action.begin(), action.end(), action.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto m = parse_madvise(action);
  const std::string k = s.substr(colon + 1);
  if (!m || k.empty() || k.find_first_not_of("0123456789") != std::string::npos || k.size() > 12) {
    return std::nullopt;
  }
  return ReclaimAction{*m, std::stoull(k)};
}

namespace {

// The options a trace and a pattern share: page sizes, backing, host events.
std::string memory_options(const Scenario& s) {
  std::string o = std::string(" --guest-pages ") +
                  (s.guest_pages == GuestPages::k4K ? "4k" : "2m") + " --host-thp " +
                  (s.host_thp ? "on" : "off") + " --backing " +
                  (s.backing == HostMemory::Kind::kAnon ? "anon" : "memfd");
  for (const ReclaimAction& r : s.reclaim) {
    o += std::string(" --reclaim ") + to_string(r.action) + ":" + std::to_string(r.pages);
  }
  if (s.memslot_readd) o += " --memslot-readd";
  return o;
}

}  // namespace

std::string describe_options(const Scenario& s) {
  if (s.trace) {
    return "--trace " + s.trace->path() + memory_options(s) + " --passes " +
           std::to_string(s.passes);
  }
  std::string o = "--pages " + std::to_string(s.pages) + " --pattern " + to_string(s.pattern) +
                  " --op " + op_name(s.op) + memory_options(s);
  if (s.pte_rewrite != PteRewrite::kNone) {
    o += std::string(" --pte-rewrite ") + to_string(s.pte_rewrite) + ":" +
         std::to_string(s.rewrite_pages);
  }
  if (s.two_cr3) o += " --two-cr3";
  if (s.vcpus != 1) o += " --vcpus " + std::to_string(s.vcpus);
  if (s.hole_pages != 0) o += " --hole " + std::to_string(s.hole_pages);
  o += " --passes " + std::to_string(s.passes);
  if (s.pattern == Pattern::kRandom) o += " --seed " + std::to_string(s.seed);
  return o;
}

namespace {

// The data's GPA offset of the last page touched (data_pages(s).back(), without the list).
std::uint64_t last_gpa_offset(const Scenario& s) {
  const std::uint64_t j = s.pages - 1;
  if (s.guest_pages == GuestPages::k2M && s.pattern == Pattern::kStride2M) return j * k2M;
  return j * k4K;
}

std::uint64_t ceil_div(std::uint64_t v, std::uint64_t d) { return (v + d - 1) / d; }

// Whether slot 1 ends at or below the data slot (kDataGpa).
bool layout_fits(const Scenario& s) { return kSysSlotGpa + sys_slot_bytes(s) <= kDataGpa; }

// A page count no layout reaches (slot 1 takes at least 4 KiB per page), so that the sums
// below cannot overflow.
constexpr std::uint64_t kPagesCap = kDataGpa / k4K;

}  // namespace

namespace {

// With a trace: the data slot's bytes before the spare frames.
std::uint64_t trace_main_bytes(const Scenario& s) {
  const TraceProgram& t = *s.trace;
  return round_up(s.guest_pages == GuestPages::k2M ? t.regions() * k2M : t.pages().size() * k4K,
                  k2M);
}

// With a trace: command words of the largest phase. A store (a PTE write) is three words,
// every other step one; a page unmapped earlier is mapped again by a store before its next
// access: in one phase at most once for each page unmapped when it starts and once for each
// unmap in it, each at most the pass's unmaps; a pass after the first may start with a CR3
// write back to the first address space, and the list ends with kEnd.
std::uint64_t trace_list_words(const Scenario& s) {
  using K = TraceProgram::Step::Kind;
  const TraceProgram& t = *s.trace;
  std::uint64_t unmaps = 0, largest = 0;
  for (const TraceProgram::Segment& g : t.segments()) {
    std::uint64_t words = 0;
    for (std::size_t i = g.begin; i < g.end; ++i) {
      const K k = t.steps()[i].kind;
      words += k == K::kUnmap || k == K::kRemap ? 3 : 1;
      unmaps += k == K::kUnmap ? 1 : 0;
    }
    largest = std::max(largest, words);
  }
  return largest + 2 * 3 * unmaps + 2;
}

}  // namespace

std::uint64_t data_page_count(const Scenario& s) {
  return s.trace ? s.trace->pages().size() : s.pages;
}

Gpa trace_page_gpa(const Scenario& s, std::uint64_t page) {
  const TraceProgram& t = *s.trace;
  if (s.guest_pages == GuestPages::k2M) {
    return Gpa(kDataGpa + t.region(page) * k2M + (t.pages()[page].gva & (k2M - k4K)));
  }
  return Gpa(kDataGpa + page * k4K);
}

std::uint64_t list_bytes(const Scenario& s) {
  if (s.trace) return round_up((trace_list_words(s) + 64) * 8, k4K);
  return round_up((s.pages * 2 + 3 * s.rewrite_pages + 2 * s.hole_pages + 64) * 8, k4K);
}

std::uint64_t sys_slot_bytes(const Scenario& s) {
  const std::uint64_t list = list_bytes(s);
  if (s.trace) {
    // The trees' tables, and the identity map of slots 0 and 1 in the first tree (a PDPT, a
    // PD and a PT per 2 MiB of [0, slot 1's end)), which depends on slot 1's size: grown
    // until it holds.
    const std::uint64_t tables = s.trace->table_pages(s.guest_pages == GuestPages::k2M) + 2 + 64;
    std::uint64_t sys = round_up(list + tables * k4K, k2M);
    for (;;) {
      const std::uint64_t identity_pts = ceil_div(kSysSlotGpa + sys, k2M);
      const std::uint64_t need = round_up(list + (tables + identity_pts) * k4K + (64 << 10), k2M);
      if (need <= sys) return sys;
      sys = need;
    }
  }
  // Tables per tree: at most one PT per data page (stride2m), a PD per 512 of them, the
  // identity map's PTs of slots 0 and 1 (for the pool itself too: one per 512 pages of it,
  // and a second tree's), the uppers and the hole's.
  const std::uint64_t trees = s.two_cr3 ? 2 : 1;
  const std::uint64_t system_pages = (kLowSlotSize + list) / k4K;
  const std::uint64_t tree_tables =
      s.pages + (trees + 1) * ceil_div(s.pages, 512) + system_pages / 512 + 2 * 512 / 512 + 16;
  const std::uint64_t pool_bytes = round_up((tree_tables * trees + 64) * k4K, k4K);
  return round_up(list + pool_bytes + (64 << 10), k2M);
}

std::uint64_t max_pages(const Scenario& s) {
  Scenario t = s;
  auto fits = [&](std::uint64_t pages) {
    t.pages = pages;
    if (s.guest_pages == GuestPages::k2M && s.pattern == Pattern::kStride2M && pages > 512) {
      return false;
    }
    return layout_fits(t);
  };
  std::uint64_t lo = 0, hi = kPagesCap;  // fits(lo) or lo == 0; !fits(hi)
  while (hi - lo > 1) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

void check(const Scenario& s) {
  if (s.trace) {
    if (s.passes < 1 || s.passes > 16) throw std::invalid_argument("--passes: 1 to 16");
    if (s.pte_rewrite != PteRewrite::kNone || s.two_cr3 || s.hole_pages != 0) {
      throw std::invalid_argument(
          "--trace: the trace's own events stand for --pte-rewrite, --two-cr3 and --hole");
    }
    if (s.guest_pages == GuestPages::k2M && s.trace->has_pte_writes()) {
      throw std::invalid_argument(
          "--trace: the trace has '!ptewrite', which needs --guest-pages 4k (a 2 MiB guest "
          "page has no PTE of its own)");
    }
    for (const ReclaimAction& r : s.reclaim) {
      if (r.pages == 0 || r.pages > s.trace->pages().size()) {
        throw std::invalid_argument("--reclaim: K from 1 to the trace's " +
                                    std::to_string(s.trace->pages().size()) + " pages");
      }
      // Advice that discards contents (anonymous memory's DONTNEED and FREE, a memfd's
      // REMOVE) must not take the instruction a fetched page holds (kFetchStub).
      const bool discards = s.backing == HostMemory::Kind::kAnon
                                ? r.action == Madvise::kDontneed || r.action == Madvise::kFree
                                : r.action == Madvise::kRemove;
      if (!discards) continue;
      std::set<Gpa> fetched;
      for (std::uint64_t j = 0; j < s.trace->pages().size(); ++j) {
        if (s.trace->pages()[j].fetched) fetched.insert(trace_page_gpa(s, j));
      }
      const auto pages = data_pages(s);
      for (std::uint64_t i = 0; i < r.pages; ++i) {
        if (fetched.contains(pages[i].gpa)) {
          throw std::invalid_argument(
              std::string("--reclaim ") + to_string(r.action) + ":" + std::to_string(r.pages) +
              ": page " + std::to_string(i + 1) +
              " holds instructions the trace fetches, which this advice would discard");
        }
      }
    }
    if (!layout_fits(s)) {
      throw std::invalid_argument(
          "--trace: the command list of its largest phase and the guest's page tables need " +
          std::to_string(sys_slot_bytes(s) >> 20) +
          " MiB of slot 1, which must end below the data slot at 1 GiB");
    }
    return;
  }
  if (s.op != Op::kRead && s.op != Op::kWrite && s.op != Op::kReadWrite) {
    throw std::invalid_argument("--op: read, write or rw");
  }
  if (s.passes < 1 || s.passes > 16) throw std::invalid_argument("--passes: 1 to 16");
  if (s.hole_pages > kHoleSize / k4K) throw std::invalid_argument("--hole: at most 96 pages");
  if (s.pages == 0) throw std::invalid_argument("--pages: at least 1");
  if (s.pages >= kPagesCap || s.rewrite_pages >= kPagesCap || !layout_fits(s) ||
      (s.guest_pages == GuestPages::k2M && s.pattern == Pattern::kStride2M && s.pages > 512)) {
    Scenario t = s;
    t.rewrite_pages = std::min(s.rewrite_pages, kPagesCap);
    const std::uint64_t max = max_pages(t);
    if (s.guest_pages == GuestPages::k2M && s.pattern == Pattern::kStride2M && max == 512) {
      throw std::invalid_argument(
          "--pages: at most 512 with --pattern stride2m --guest-pages 2m (2 MiB of the data "
          "slot per page: 1 GiB)");
    }
    throw std::invalid_argument("--pages: at most " + std::to_string(max) +
                                " with these options (slot 1, the command list and the guest's "
                                "page tables, must end below the data slot at 1 GiB)");
  }
  for (const ReclaimAction& r : s.reclaim) {
    if (r.pages == 0 || r.pages > s.pages) {
      throw std::invalid_argument("--reclaim: K from 1 to --pages");
    }
  }
  if (s.pte_rewrite == PteRewrite::kNone && s.rewrite_pages != 0) {
    throw std::invalid_argument("--pte-rewrite: pages without invlpg or cr3");
  }
  if (s.pte_rewrite != PteRewrite::kNone && (s.rewrite_pages == 0 || s.rewrite_pages > s.pages)) {
    throw std::invalid_argument("--pte-rewrite: K from 1 to --pages");
  }
  if (s.pte_rewrite != PteRewrite::kNone && s.guest_pages != GuestPages::k4K) {
    throw std::invalid_argument("--pte-rewrite needs --guest-pages 4k");
  }
  if (s.two_cr3 && s.passes < 2) throw std::invalid_argument("--two-cr3 needs --passes 2+");
  if (s.vcpus != 1 && s.vcpus != 2) throw std::invalid_argument("--vcpus: 1 or 2");
  if (s.vcpus == 2 && s.trace) {
    throw std::invalid_argument("--vcpus 2: not with --trace (not built yet)");
  }
}

namespace {

// A draw in [0, n).
std::uint64_t below(std::uint64_t& state, std::uint64_t n) { return splitmix64(state) % n; }

bool chance(std::uint64_t& state, unsigned percent) { return below(state, 100) < percent; }

// A count in [1, max]: 1 and max themselves one time in 20 each, otherwise log-uniform
// (a power-of-two range [2^(k-1), 2^k) drawn uniformly among those up to max, then a
// value in it: as many draws below 16 as from 2^14 to 2^18, so small and large are both
// covered and a sample's run time is not dominated by its largest scenarios). Integers
// only, so a seed draws the same counts everywhere.
std::uint64_t draw_count(std::uint64_t& state, std::uint64_t max) {
  const std::uint64_t r = below(state, 20);
  if (r == 0 || max == 1) return 1;
  if (r == 1) return max;
  const auto bits = static_cast<std::uint64_t>(std::bit_width(max));
  const std::uint64_t k = 1 + below(state, bits);
  const std::uint64_t lo = std::uint64_t{1} << (k - 1);
  const std::uint64_t hi = std::min(max, (std::uint64_t{1} << k) - 1);
  return lo + below(state, hi - lo + 1);
}

}  // namespace

Scenario draw_scenario(std::uint64_t& state) {
  for (;;) {
    Scenario s;
    s.name = "sample";
    s.description = "drawn from the parameter space";
    s.pattern = static_cast<Pattern>(below(state, 3));
    const Op ops[] = {Op::kRead, Op::kWrite, Op::kReadWrite};
    s.op = ops[below(state, 3)];
    s.guest_pages = chance(state, 50) ? GuestPages::k4K : GuestPages::k2M;
    s.host_thp = chance(state, 50);
    s.backing = chance(state, 50) ? HostMemory::Kind::kAnon : HostMemory::Kind::kMemfd;
    s.memslot_readd = chance(state, 25);
    s.two_cr3 = chance(state, 25);
    s.hole_pages = chance(state, 25) ? 1 + below(state, kHoleSize / k4K) : 0;
    if (s.guest_pages == GuestPages::k4K && chance(state, 50)) {
      s.pte_rewrite = chance(state, 50) ? PteRewrite::kInvlpg : PteRewrite::kCr3;
    }
    // Passes: mostly the few that follow the events, up to the limit of 16.
    const int min_passes = s.two_cr3 ? 2 : 1;
    s.passes = chance(state, 70) ? min_passes + static_cast<int>(below(state, 3))
                                 : min_passes + static_cast<int>(below(state, 17 - min_passes));
    const std::uint64_t n_reclaim = below(state, 100) < 50 ? 0 : 1 + below(state, 3);
    std::vector<Madvise> actions;
    for (std::uint64_t i = 0; i < n_reclaim; ++i) {
      actions.push_back(static_cast<Madvise>(below(state, 4)));
    }
    s.seed = below(state, 1000000000000ull);  // describe_options's --seed: 12 digits at most
    // Pages up to the bound without PTE rewrites; the rewrites' words and spare pages may
    // then cross it (rarely: a draw near the bound), and the scenario is drawn again.
    Scenario probe = s;
    probe.rewrite_pages = 0;
    const std::uint64_t max = max_pages(probe);
    if (max == 0) continue;
    s.pages = draw_count(state, max);
    if (s.pte_rewrite != PteRewrite::kNone) s.rewrite_pages = draw_count(state, s.pages);
    for (Madvise a : actions) s.reclaim.push_back({a, draw_count(state, s.pages)});
    try {
      check(s);
    } catch (const std::invalid_argument&) {
      continue;  // the rewrites' list words or spare pages crossed the bound: draw again
    }
    // Two vCPUs for half the scenarios, decided from the scenario's own seed: the state is
    // not advanced, so every other draw of a sample seed is what it was before vCPUs were
    // drawn.
    {
      std::uint64_t vcpu_state = s.seed ^ 0x76637075ull;  // "vcpu"
      Scenario two = s;
      two.vcpus = chance(vcpu_state, 50) ? 2 : 1;
      try {
        check(two);
        s = two;
      } catch (const std::invalid_argument&) {
        // stays at one vCPU
      }
    }
    return s;
  }
}

std::vector<DataPage> data_pages(const Scenario& s) {
  std::vector<DataPage> out;
  if (s.trace) {
    const auto& pages = s.trace->pages();
    out.reserve(pages.size());
    for (std::uint64_t j = 0; j < pages.size(); ++j) {
      out.push_back(DataPage{Gva(pages[j].gva), trace_page_gpa(s, j)});
    }
    std::sort(out.begin(), out.end(),
              [](const DataPage& a, const DataPage& b) { return a.gpa < b.gpa; });
    return out;
  }
  out.reserve(s.pages);
  for (std::uint64_t j = 0; j < s.pages; ++j) {
    const std::uint64_t gva_off = s.pattern == Pattern::kStride2M ? j * k2M : j * k4K;
    std::uint64_t gpa_off;
    if (s.guest_pages == GuestPages::k4K) {
      gpa_off = j * k4K;
    } else {
      gpa_off = gva_off;  // 2 MiB guest pages map GVA region r to GPA region r
    }
    out.push_back(DataPage{Gva(kDataGva + gva_off), Gpa(kDataGpa + gpa_off)});
  }
  return out;
}

std::uint64_t data_slot_bytes(const Scenario& s) {
  if (s.trace) {
    return round_up(trace_main_bytes(s) + s.trace->remaps() * s.passes * k4K, k2M);
  }
  const std::uint64_t main = round_up(last_gpa_offset(s) + k4K, k2M);
  return round_up(main + s.rewrite_pages * k4K, k2M);
}

Gpa spare_gpa(const Scenario& s, std::uint64_t i) {
  if (s.trace) return Gpa(kDataGpa + trace_main_bytes(s) + i * k4K);
  const std::uint64_t main = round_up(last_gpa_offset(s) + k4K, k2M);
  return Gpa(kDataGpa + main + i * k4K);
}

std::vector<Gva> touch_order(const Scenario& s) {
  std::vector<Gva> out;
  for (const DataPage& p : data_pages(s)) out.push_back(p.gva);
  if (s.pattern == Pattern::kRandom) {
    std::uint64_t state = s.seed;
    for (std::size_t i = out.size(); i > 1; --i) {
      std::swap(out[i - 1], out[splitmix64(state) % i]);
    }
  }
  return out;
}

const std::vector<Scenario>& presets() {
  static const std::vector<Scenario> all = [] {
    std::vector<Scenario> v;
    auto add = [&](Scenario s) { v.push_back(std::move(s)); };
    add({.name = "seq-read",
         .description = "first reads of fresh anonymous memory (the zero page), then a pass "
                        "that hits",
         .pages = 512});
    add({.name = "seq-write",
         .description = "first stores, then a pass that hits",
         .pages = 512,
         .op = Op::kWrite});
    add({.name = "seq-rw",
         .description = "load then store each page: zero page, then copy-on-write",
         .pages = 512,
         .op = Op::kReadWrite});
    add({.name = "random-write",
         .description = "stores in a random order",
         .pages = 512,
         .pattern = Pattern::kRandom,
         .op = Op::kWrite});
    add({.name = "stride2m-write",
         .description = "one page per 2 MiB: a shadow page table per touch",
         .pages = 32,
         .pattern = Pattern::kStride2M,
         .op = Op::kWrite});
    add({.name = "guest2m-write",
         .description = "2 MiB guest pages over 4 KiB host pages (direct shadow pages)",
         .pages = 1024,
         .op = Op::kWrite,
         .guest_pages = GuestPages::k2M});
    add({.name = "guest2m-thp-write",
         .description = "2 MiB guest pages over host THP: 2 MiB shadow leaves",
         .pages = 1024,
         .op = Op::kWrite,
         .guest_pages = GuestPages::k2M,
         .host_thp = true});
    add({.name = "anon-dontneed",
         .description = "MADV_DONTNEED on anonymous memory: zap, host and shadow refaults",
         .pages = 512,
         .op = Op::kWrite,
         .reclaim = {{Madvise::kDontneed, 128}}});
    add({.name = "anon-free",
         .description = "MADV_FREE on anonymous memory: zap, pages stay (no pressure)",
         .pages = 512,
         .op = Op::kWrite,
         .reclaim = {{Madvise::kFree, 128}}});
    add({.name = "anon-pageout",
         .description = "MADV_PAGEOUT on anonymous memory without swap",
         .pages = 512,
         .op = Op::kWrite,
         .reclaim = {{Madvise::kPageout, 128}}});
    add({.name = "memfd-dontneed",
         .description = "MADV_DONTNEED on a memfd: zap, page cache keeps the pages",
         .pages = 512,
         .op = Op::kWrite,
         .backing = HostMemory::Kind::kMemfd,
         .reclaim = {{Madvise::kDontneed, 128}}});
    add({.name = "memfd-remove",
         .description = "MADV_REMOVE on a memfd: hole punched, pages freed",
         .pages = 512,
         .op = Op::kWrite,
         .backing = HostMemory::Kind::kMemfd,
         .reclaim = {{Madvise::kRemove, 128}}});
    add({.name = "memfd-pageout",
         .description = "MADV_PAGEOUT on a memfd without swap",
         .pages = 512,
         .op = Op::kWrite,
         .backing = HostMemory::Kind::kMemfd,
         .reclaim = {{Madvise::kPageout, 128}}});
    add({.name = "memslot-readd",
         .description = "delete and re-add the data slot: everything zapped, prefetch refills",
         .pages = 512,
         .op = Op::kWrite,
         .memslot_readd = true});
    add({.name = "pte-invlpg",
         .description = "the guest rewrites 16 PTEs (unsync), INVLPG each, touches again",
         .pages = 512,
         .op = Op::kWrite,
         .pte_rewrite = PteRewrite::kInvlpg,
         .rewrite_pages = 16});
    add({.name = "pte-cr3",
         .description = "the guest rewrites 16 PTEs (unsync), reloads CR3 (sync), touches again",
         .pages = 512,
         .op = Op::kWrite,
         .pte_rewrite = PteRewrite::kCr3,
         .rewrite_pages = 16});
    add({.name = "two-cr3",
         .description = "pass 2 under a second CR3 (own tables, same data), pass 3 back",
         .pages = 512,
         .op = Op::kWrite,
         .two_cr3 = true,
         .passes = 3});
    add({.name = "hole",
         .description = "loads from 8 pages of the 640 KiB-1 MiB hole (MMIO exits)",
         .pages = 64,
         .hole_pages = 8});
    return v;
  }();
  return all;
}

const std::vector<Scenario>& two_vcpu_presets() {
  static const std::vector<Scenario> all = [] {
    std::vector<Scenario> v;
    v.push_back({.name = "2cpu-pte-cr3",
                 .description = "vCPUs 0 and 1 write the same 512 pages; vCPU 0 rewrites 16 "
                                "PTEs (unsync) and INVLPGs them; vCPU 1 reloads CR3 and "
                                "touches again",
                 .pages = 512,
                 .op = Op::kWrite,
                 .pte_rewrite = PteRewrite::kInvlpg,
                 .rewrite_pages = 16,
                 .vcpus = 2});
    v.push_back({.name = "2cpu-dontneed",
                 .description = "vCPUs 0 and 1 write the same 512 pages; the VMM "
                                "MADV_DONTNEEDs 128 of them; vCPU 1, then vCPU 0, touch again",
                 .pages = 512,
                 .op = Op::kWrite,
                 .reclaim = {{Madvise::kDontneed, 128}},
                 .vcpus = 2});
    return v;
  }();
  return all;
}

const Scenario* find_preset(const std::string& name) {
  for (const Scenario& s : presets()) {
    if (s.name == name) return &s;
  }
  for (const Scenario& s : two_vcpu_presets()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace pagesim::validate
