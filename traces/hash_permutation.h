// A keyed pseudo-random bijection of [0, n) that needs no table: a balanced Feistel network
// over the smallest even number of bits covering n, with cycle walking (Black and Rogaway
// 2002, "Ciphers with arbitrary finite domains") to stay inside [0, n).
//
// Memory is constant whatever n is (a 64 GiB footprint has 2^30 cache lines), and each
// call costs a few multiplications: on average fewer than 4 network passes, since the
// network's domain is less than 4n. Used for the pointer chase (visiting perm(0), perm(1),
// ... is one random cycle through all n elements) and to scatter zipf's popular pages.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

#include "traces/random.h"

namespace pagesim::traces {

class HashPermutation {
 public:
  // n >= 1 elements; the key selects the permutation.
  HashPermutation(std::uint64_t n, std::uint64_t key) : m_n(n) {
    const auto bits =
        static_cast<unsigned>(std::bit_width(n - 1));  // enough bits for every value below n
    m_half_bits = (bits + 1) / 2;
    m_half_mask = (std::uint64_t{1} << m_half_bits) - 1;
    SplitMix64 keys(key);
    for (auto& round_key : m_round_keys) {
      round_key = keys.next();
    }
  }

  std::uint64_t size() const { return m_n; }

  // The image of i; i < size(). Distinct i give distinct images, all below size().
  std::uint64_t operator()(std::uint64_t i) const {
    if (m_n <= 1) {
      return 0;
    }
    do {
      i = network(i);
    } while (i >= m_n);
    return i;
  }

 private:
  static constexpr int kRounds = 4;  // Luby-Rackoff: 4 rounds give a pseudo-random permutation

  std::uint64_t network(std::uint64_t x) const {
    std::uint64_t left = x >> m_half_bits;
    std::uint64_t right = x & m_half_mask;
    for (std::uint64_t round_key : m_round_keys) {
      const std::uint64_t next_right = left ^ (mix64(right ^ round_key) & m_half_mask);
      left = right;
      right = next_right;
    }
    return (left << m_half_bits) | right;
  }

  std::uint64_t m_n;
  unsigned m_half_bits = 0;
  std::uint64_t m_half_mask = 0;
  std::array<std::uint64_t, kRounds> m_round_keys{};
};

}  // namespace pagesim::traces
