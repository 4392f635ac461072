#include "traces/zipf_sampler.h"

#include <array>
#include <bit>
#include <cmath>
#include <limits>

namespace pagesim::traces {

namespace {

// ln 2 split so that k * kLn2High is exact for |k| < 2^11 (fdlibm's constants).
constexpr double kLn2High = 6.93147180369123816490e-01;
constexpr double kLn2Low = 1.90821492927058770002e-10;
constexpr double kInvLn2 = 1.44269504088896338700e+00;
constexpr double kSqrtHalf = 0.70710678118654752440;

// 1/(2j+1) for j = 0..11, the atanh series of det_log; 1/j! for j = 0..14, the Taylor series
// of det_exp. Computed once, at compile time, by IEEE division (correctly rounded, so the
// same values everywhere).
constexpr std::array<double, 12> kOddReciprocals = [] {
  std::array<double, 12> r{};
  for (std::size_t j = 0; j < r.size(); ++j) {
    r[j] = 1.0 / static_cast<double>(2 * j + 1);
  }
  return r;
}();
// 2^(j/64) for j = 0..63, for det_exp's table-driven reduction: the Taylor series of
// exp(j ln2 / 64) to degree 24, summed at compile time (IEEE arithmetic, so the same values
// everywhere; within an ulp or two of the true value).
constexpr int kExpTableBits = 6;
constexpr std::array<double, 1 << kExpTableBits> kExp2Fractions = [] {
  std::array<double, 1 << kExpTableBits> table{};
  for (std::size_t j = 0; j < table.size(); ++j) {
    const double x = static_cast<double>(j) * (kLn2High + kLn2Low) / 64.0;
    double term = 1.0;
    double sum = 1.0;
    for (int n = 1; n <= 24; ++n) {
      term = term * x / n;
      sum += term;
    }
    table[j] = sum;
  }
  return table;
}();

// exp(x) - 1 without cancellation for small x (Kahan's formulation).
double det_expm1(double x) {
  const double u = det_exp(x);
  if (u == 1.0) {
    return x;
  }
  const double um1 = u - 1.0;
  if (um1 == -1.0) {
    return -1.0;
  }
  return um1 * x / det_log(u);
}

// log1p(x) / x, continuous at 0. For larger |x| it is log(u) / (u - 1) with u = 1 + x as
// rounded: the rounding error of u cancels between numerator and denominator (Goldberg
// 1991, "What every computer scientist should know about floating-point arithmetic",
// theorem 4), one division instead of two.
double helper1(double x) {
  if (std::fabs(x) > 1e-8) {
    const double u = 1.0 + x;
    return det_log(u) / (u - 1.0);
  }
  return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

// expm1(x) / x, continuous at 0.
double helper2(double x) {
  if (std::fabs(x) > 1e-8) {
    return det_expm1(x) / x;
  }
  return 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
}

}  // namespace

double det_log(double x) {
  if (!(x > 0.0) || x == std::numeric_limits<double>::infinity()) {
    return x == 0.0  ? -std::numeric_limits<double>::infinity()
           : x > 0.0 ? x
                     : std::numeric_limits<double>::quiet_NaN();
  }
  // x = m * 2^exponent with m in [sqrt(1/2), sqrt(2)), read from the bits (exact).
  int exponent = 0;
  if (x < std::numeric_limits<double>::min()) {
    x *= 0x1.0p54;  // subnormal: make it normal first (exact)
    exponent = -54;
  }
  const auto bits = std::bit_cast<std::uint64_t>(x);
  exponent += static_cast<int>(bits >> 52) - 1023;
  double m = std::bit_cast<double>((bits & 0x000f'ffff'ffff'ffffULL) | 0x3ff0'0000'0000'0000ULL);
  if (m > 2.0 * kSqrtHalf) {
    m *= 0.5;
    ++exponent;
  }
  // log(m) = 2 atanh(f) = 2 (f + f^3/3 + f^5/5 + ...) with f = (m - 1)/(m + 1),
  // |f| <= 0.1716, so terms past f^23 are below 1e-17 of the result.
  const double f = (m - 1.0) / (m + 1.0);
  const double f2 = f * f;
  double series = kOddReciprocals.back();
  for (std::size_t j = kOddReciprocals.size() - 1; j-- > 0;) {
    series = series * f2 + kOddReciprocals[j];
  }
  const double e = exponent;
  return e * kLn2High + (2.0 * f * series + e * kLn2Low);
}

double det_exp(double x) {
  if (x != x) {
    return x;
  }
  if (x > 709.78) {
    return std::numeric_limits<double>::infinity();
  }
  if (x < -745.2) {
    return 0.0;
  }
  // x = (64 e + j) ln2/64 + r with |r| <= ln2/128, so exp(x) = 2^e 2^(j/64) exp(r), and
  // exp(r) to r^6/6! (the next term is below 3e-20). k ln2/64 is split in two so that
  // k * kLn2High/64 is exact (|k| < 2^17; kLn2High has 21 trailing zero bits).
  const double kd = std::floor(x * (64.0 * kInvLn2) + 0.5);
  const double r = (x - kd * (kLn2High / 64.0)) - kd * (kLn2Low / 64.0);
  const auto k = static_cast<std::int64_t>(kd);
  const double r2 = r * r;
  // Estrin's scheme: shorter dependency chains than Horner's.
  const double p = (1.0 + r) + r2 * ((0.5 + r * (1.0 / 6.0)) +
                                     r2 * ((1.0 / 24.0 + r * (1.0 / 120.0)) + r2 * (1.0 / 720.0)));
  const double scaled = kExp2Fractions[static_cast<std::size_t>(k & 63)] * p;  // in [1, 2)
  const std::int64_t e = k >> kExpTableBits;
  if (e < -1021) {
    return std::ldexp(scaled, static_cast<int>(e));  // a subnormal result: rare
  }
  // 2^e from its bits; scaled * 2^e is then exact (or overflows to infinity, correctly).
  return scaled * std::bit_cast<double>(static_cast<std::uint64_t>(e + 1023) << 52);
}

ZipfSampler::ZipfSampler(std::uint64_t n, double alpha)
    : m_alpha(alpha), m_n_double(static_cast<double>(n)) {
  m_h_integral_x1 = h_integral(1.5) - 1.0;
  m_h_integral_n = h_integral(m_n_double + 0.5);
  m_squeeze = 2.0 - h_integral_inverse(h_integral(2.5) - h(2.0));
}

// h(x) = x^-alpha, the density the discrete distribution is bounded by.
double ZipfSampler::h(double x) const { return det_exp(-m_alpha * det_log(x)); }

// H(x) = integral of h from 1 to x, shifted by a constant: (x^(1-alpha) - 1)/(1 - alpha),
// and log(x) at alpha = 1, computed without cancellation near alpha = 1.
double ZipfSampler::h_integral(double x) const {
  const double log_x = det_log(x);
  return helper2((1.0 - m_alpha) * log_x) * log_x;
}

double ZipfSampler::h_integral_inverse(double x) const {
  double t = x * (1.0 - m_alpha);
  if (t < -1.0) {
    t = -1.0;  // rounding may push t just below -1, where log1p is undefined
  }
  return det_exp(helper1(t) * x);
}

}  // namespace pagesim::traces
