#include "models/host/memslot_layout.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "base/config/value_traits.h"
#include "models/host/qemu_layout.h"

namespace pagesim::host {
namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(sep, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') {
    s.remove_prefix(1);
  }
  while (!s.empty() && s.back() == ' ') {
    s.remove_suffix(1);
  }
  return s;
}

[[noreturn]] void fail(const std::string& why) { throw std::invalid_argument("vm.layout: " + why); }

}  // namespace

namespace {

// vm.layout's slots and the memory behind each.
std::vector<Memslot> parse_layout(const VmParams& vm, Hva ram_base, std::vector<Backing>& backing,
                                  std::vector<bool>& thp) {
  if (vm.layout == "qemu") {
    std::vector<Memslot> slots = qemu_pc_layout(vm.memory.bytes, ram_base);
    backing.assign(slots.size(), vm.backing);
    thp.assign(slots.size(), true);
    return slots;
  }
  std::vector<Memslot> slots;
  MemslotTable table;  // its add() enforces alignment and no overlap
  std::uint64_t offset = 0;
  std::uint64_t ram = 0;
  std::uint32_t id = 0;
  for (std::string_view item : split(vm.layout, ',')) {
    const std::string text(trim(item));
    const std::vector<std::string_view> f = split(text, ':');
    bool readonly = false;
    bool nothp = false;
    std::optional<Backing> memory;
    bool flags_ok = f.size() >= 2 && f.size() <= 5;
    for (std::size_t i = 2; flags_ok && i < f.size(); ++i) {
      if (f[i] == "ro" && !readonly && !memory && !nothp) {
        readonly = true;
      } else if ((f[i] == "anon" || f[i] == "memfd") && !memory && !nothp) {
        memory = f[i] == "anon" ? Backing::kAnon : Backing::kMemfd;
      } else if (f[i] == "nothp" && !nothp) {
        nothp = true;
      } else {
        flags_ok = false;
      }
    }
    if (!flags_ok) {
      fail("slot " + std::to_string(id) + " '" + text +
           "' is not GPA:SIZE[:ro][:anon|:memfd][:nothp] (or write \"qemu\")");
    }
    std::uint64_t gpa = 0;
    config::ByteSize size;
    if (auto err = config::parse_value(f[0], gpa)) {
      fail("slot " + std::to_string(id) + ": GPA " + *err);
    }
    if (auto err = config::parse_value(f[1], size)) {
      fail("slot " + std::to_string(id) + ": size " + *err);
    }
    const Memslot slot{id, Gpa(gpa), size.bytes, ram_base + offset, readonly};
    try {
      table.add(slot);
    } catch (const MemslotError& e) {
      fail(e.what());
    }
    slots.push_back(slot);
    backing.push_back(memory.value_or(vm.backing));
    thp.push_back(!nothp);
    offset += size.bytes;
    ram += readonly ? 0 : size.bytes;
    ++id;
  }
  if (ram != vm.memory.bytes) {
    throw std::invalid_argument("vm.layout: its writable slots hold " + std::to_string(ram) +
                                " bytes of RAM, vm.memory says " + std::to_string(vm.memory.bytes) +
                                ": make them agree");
  }
  return slots;
}

}  // namespace

std::vector<Memslot> memslot_layout(const VmParams& vm, Hva ram_base) {
  std::vector<Backing> backing;
  std::vector<bool> thp;
  return parse_layout(vm, ram_base, backing, thp);
}

std::vector<Backing> memslot_backing(const VmParams& vm) {
  std::vector<Backing> backing;
  std::vector<bool> thp;
  (void)parse_layout(vm, Hva(kVmmRamBase), backing, thp);
  return backing;
}

std::vector<VmmMapping> vmm_mappings(const VmParams& vm, Hva ram_base) {
  std::vector<Backing> backing;
  std::vector<bool> thp;
  const std::vector<Memslot> slots = parse_layout(vm, ram_base, backing, thp);
  std::vector<std::size_t> order(slots.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return slots[a].hva < slots[b].hva; });
  std::vector<VmmMapping> mappings;
  for (const std::size_t i : order) {
    const Hva end = slots[i].hva + slots[i].bytes;
    // A slot advised otherwise (nothp) is a VMA of its own: madvise splits the VMA it
    // advises a part of (madvise_update_vma -> split_vma).
    if (!mappings.empty() && mappings.back().backing == backing[i] &&
        mappings.back().thp == thp[i]) {
      mappings.back().end = std::max(mappings.back().end, end);
    } else {
      mappings.push_back(VmmMapping{slots[i].hva, end, backing[i], thp[i]});
    }
  }
  return mappings;
}

std::optional<std::string> memslot_layout_error(const VmParams& vm) {
  try {
    (void)memslot_layout(vm, Hva(kVmmRamBase));
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    const std::string prefix = "vm.layout: ";
    if (what.starts_with(prefix)) {
      what = what.substr(prefix.size());
    }
    return what;
  }
  return std::nullopt;
}

}  // namespace pagesim::host
