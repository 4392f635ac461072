// Deterministic pseudo-random numbers for the generators: the same seed gives the same
// numbers on every machine and with every standard library (std:: distributions differ
// between implementations, so none is used).
//
//   SplitMix64       seeds the others (Steele, Lea, Flood 2014; Vigna's reference code)
//   Xoshiro256ss     xoshiro256** 1.0 (Blackman and Vigna 2018), the generators' stream
//   mix64            the SplitMix64 finalizer, a 64-bit bijective hash
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace pagesim::traces {

__extension__ using Uint128 = unsigned __int128;

constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class SplitMix64 {
 public:
  constexpr explicit SplitMix64(std::uint64_t seed) : m_state(seed) {}
  constexpr std::uint64_t next() {
    m_state += 0x9e3779b97f4a7c15ULL;
    return mix64(m_state);
  }

 private:
  std::uint64_t m_state;
};

class Xoshiro256ss {
 public:
  // The four state words come from SplitMix64(seed), as the xoshiro authors recommend; the
  // state is then never all zero.
  constexpr explicit Xoshiro256ss(std::uint64_t seed) {
    SplitMix64 seeder(seed);
    for (auto& word : m_state) {
      word = seeder.next();
    }
  }

  constexpr std::uint64_t next() {
    const std::uint64_t result = std::rotl(m_state[1] * 5, 7) * 9;
    const std::uint64_t t = m_state[1] << 17;
    m_state[2] ^= m_state[0];
    m_state[3] ^= m_state[1];
    m_state[1] ^= m_state[2];
    m_state[0] ^= m_state[3];
    m_state[2] ^= t;
    m_state[3] = std::rotl(m_state[3], 45);
    return result;
  }

  // Uniform in [0, bound), exactly (Lemire 2019, "Fast random integer generation in an
  // interval"): one multiplication, a division only in the rare rejection case. bound >= 1.
  constexpr std::uint64_t below(std::uint64_t bound) {
    Uint128 product = static_cast<Uint128>(next()) * bound;
    auto low = static_cast<std::uint64_t>(product);
    if (low < bound) {
      const std::uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        product = static_cast<Uint128>(next()) * bound;
        low = static_cast<std::uint64_t>(product);
      }
    }
    return static_cast<std::uint64_t>(product >> 64);
  }

  // Uniform in [0, 2^53): the top 53 bits of one draw.
  constexpr std::uint64_t next53() { return next() >> 11; }

  // Uniform in [0, 1), a multiple of 2^-53 (exact, so the same on every machine).
  constexpr double unit() { return static_cast<double>(next53()) * 0x1.0p-53; }

 private:
  std::array<std::uint64_t, 4> m_state{};
};

}  // namespace pagesim::traces
