// The four kinds of address in a virtualized machine, as distinct types.
//
//   GVA --guest page table--> GPA --memslot--> HVA --host page table--> HPA
//
// A Gpa passed where an Hpa is expected does not compile: there is no implicit conversion
// between spaces, nor from an integer. Crossing spaces takes a named function of the model
// that knows the mapping (a walk, a memslot). In native mode the core issues Gva and the
// page tables map them to Hpa (the machine's physical addresses).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace pagesim {

template <class Space>
class Address {
 public:
  constexpr Address() = default;
  constexpr explicit Address(std::uint64_t value) : m_value(value) {}

  constexpr std::uint64_t value() const { return m_value; }
  // Page number at the given page-size shift (12 for 4 KiB, 21 for 2 MiB, 30 for 1 GiB).
  constexpr std::uint64_t page_number(unsigned shift) const { return m_value >> shift; }
  constexpr std::uint64_t page_offset(unsigned shift) const {
    return m_value & ((std::uint64_t{1} << shift) - 1);
  }
  constexpr Address page_base(unsigned shift) const {
    return Address(m_value & ~((std::uint64_t{1} << shift) - 1));
  }
  constexpr Address operator+(std::uint64_t bytes) const { return Address(m_value + bytes); }
  constexpr auto operator<=>(const Address&) const = default;

 private:
  std::uint64_t m_value = 0;
};

struct GvaSpace {
  static constexpr const char* kName = "gva";
};
struct GpaSpace {
  static constexpr const char* kName = "gpa";
};
struct HvaSpace {
  static constexpr const char* kName = "hva";
};
struct HpaSpace {
  static constexpr const char* kName = "hpa";
};

using Gva = Address<GvaSpace>;  // guest virtual (in native mode: the process's virtual)
using Gpa = Address<GpaSpace>;  // guest physical
using Hva = Address<HvaSpace>;  // host virtual (the VMM process's view of guest memory)
using Hpa = Address<HpaSpace>;  // host physical (in native mode: the machine's physical)

}  // namespace pagesim

template <class Space>
struct std::hash<pagesim::Address<Space>> {
  std::size_t operator()(const pagesim::Address<Space>& a) const noexcept {
    return std::hash<std::uint64_t>{}(a.value());
  }
};
