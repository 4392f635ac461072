#include "models/host/memslot_layout.h"

#include <stdexcept>

#include "models/host/qemu_layout.h"
#include "sim/config/value_traits.h"

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

std::vector<Memslot> memslot_layout(const VmParams& vm, Hva ram_base) {
  if (vm.layout == "qemu") {
    return qemu_pc_layout(vm.memory.bytes, ram_base);
  }
  std::vector<Memslot> slots;
  MemslotTable table;  // its add() enforces alignment and no overlap
  std::uint64_t offset = 0;
  std::uint64_t ram = 0;
  std::uint32_t id = 0;
  for (std::string_view item : split(vm.layout, ',')) {
    const std::string text(trim(item));
    const std::vector<std::string_view> f = split(text, ':');
    if (f.size() < 2 || f.size() > 3 || (f.size() == 3 && f[2] != "ro")) {
      fail("slot " + std::to_string(id) + " '" + text +
           "' is not GPA:SIZE or GPA:SIZE:ro (or write \"qemu\")");
    }
    std::uint64_t gpa = 0;
    config::ByteSize size;
    if (auto err = config::parse_value(f[0], gpa)) {
      fail("slot " + std::to_string(id) + ": GPA " + *err);
    }
    if (auto err = config::parse_value(f[1], size)) {
      fail("slot " + std::to_string(id) + ": size " + *err);
    }
    const bool readonly = f.size() == 3;
    const Memslot slot{id, Gpa(gpa), size.bytes, ram_base + offset, readonly};
    try {
      table.add(slot);
    } catch (const MemslotError& e) {
      fail(e.what());
    }
    slots.push_back(slot);
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

std::optional<std::string> memslot_layout_error(const VmParams& vm) {
  try {
    (void)memslot_layout(vm, Hva(0x7f0000000000));
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
