// Simulated time inside the models: an integer count of core clock cycles.
// sc_time appears only at SystemC module boundaries (base/tlm/cycle_clock.h converts).
#pragma once

#include <compare>
#include <cstdint>

namespace pagesim {

class Cycles {
 public:
  constexpr Cycles() = default;
  constexpr explicit Cycles(std::uint64_t count) : m_count(count) {}
  constexpr std::uint64_t count() const { return m_count; }
  constexpr Cycles& operator+=(Cycles other) {
    m_count += other.m_count;
    return *this;
  }
  constexpr Cycles& operator-=(Cycles other) {
    m_count -= other.m_count;
    return *this;
  }
  friend constexpr Cycles operator+(Cycles a, Cycles b) { return Cycles(a.m_count + b.m_count); }
  friend constexpr Cycles operator-(Cycles a, Cycles b) { return Cycles(a.m_count - b.m_count); }
  friend constexpr Cycles operator*(Cycles a, std::uint64_t n) { return Cycles(a.m_count * n); }
  constexpr auto operator<=>(const Cycles&) const = default;

 private:
  std::uint64_t m_count = 0;
};

}  // namespace pagesim
