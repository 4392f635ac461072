// Zipf-distributed ranks over {1, ..., n}: P(k) = k^-alpha / H(n, alpha), with
// H(n, alpha) = sum over j = 1..n of j^-alpha.
//
// Rejection-inversion (Hörmann and Derflinger 1996, "Rejection-inversion to generate
// variates from monotone discrete distributions"; the formulation of Apache Commons RNG's
// RejectionInversionZipfSampler): O(1) time and memory per draw whatever n is (16M pages
// of a 64 GiB footprint cost nothing to set up), no table, no allocation. The expected
// number of uniform draws per sample is close to 1.
//
// Deterministic on every machine: the logarithm and exponential it needs are computed here
// from IEEE-754 basic operations (correctly rounded everywhere), not by the C library,
// whose last bit differs between implementations and versions. This relies on the build
// not contracting a*b+c into FMA (GCC's default in ISO mode, -std=c++20).
#pragma once

#include <cstdint>

#include "traces/random.h"

namespace pagesim::traces {

// Deterministic natural logarithm and exponential, relative error below 1e-15; exposed for
// tests. det_log needs x > 0 and finite.
double det_log(double x);
double det_exp(double x);

class ZipfSampler {
 public:
  // n >= 1 ranks; alpha > 0 (alpha = 1 is the classic Zipf law).
  ZipfSampler(std::uint64_t n, double alpha);

  // A rank in [1, n].
  std::uint64_t operator()(Xoshiro256ss& rng) const {
    while (true) {
      const double u = m_h_integral_n + rng.unit() * (m_h_integral_x1 - m_h_integral_n);
      const double x = h_integral_inverse(u);
      double k = static_cast<double>(static_cast<std::int64_t>(x + 0.5));
      if (k < 1) {
        k = 1;
      } else if (k > m_n_double) {
        k = m_n_double;
      }
      if (k - x <= m_squeeze || u >= h_integral(k + 0.5) - h(k)) {
        return static_cast<std::uint64_t>(k);
      }
    }
  }

 private:
  double h(double x) const;
  double h_integral(double x) const;
  double h_integral_inverse(double x) const;

  double m_alpha;
  double m_n_double;
  double m_h_integral_x1;
  double m_h_integral_n;
  double m_squeeze;
};

}  // namespace pagesim::traces
