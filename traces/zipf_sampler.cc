#include "traces/zipf_sampler.h"

#include <cmath>
#include <limits>

namespace pagesim::traces {

namespace {

// ln 2 split so that k * kLn2High is exact for |k| < 2^11 (fdlibm's constants).
constexpr double kLn2High = 6.93147180369123816490e-01;
constexpr double kLn2Low = 1.90821492927058770002e-10;
constexpr double kInvLn2 = 1.44269504088896338700e+00;
constexpr double kSqrtHalf = 0.70710678118654752440;

// log(1 + x) without cancellation for small x (Goldberg 1991, "What every computer scientist
// should know about floating-point arithmetic", theorem 4).
double det_log1p(double x) {
  const double u = 1.0 + x;
  if (u == 1.0) {
    return x;
  }
  return det_log(u) * x / (u - 1.0);
}

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

// log1p(x) / x, continuous at 0.
double helper1(double x) {
  if (std::fabs(x) > 1e-8) {
    return det_log1p(x) / x;
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
  int exponent = 0;
  double m = std::frexp(x, &exponent);  // exact: x = m * 2^exponent, m in [0.5, 1)
  if (m < kSqrtHalf) {
    m *= 2.0;
    --exponent;
  }
  // m in [sqrt(1/2), sqrt(2)): log(m) = 2 atanh(f) = 2 (f + f^3/3 + f^5/5 + ...) with
  // f = (m - 1)/(m + 1), |f| <= 0.1716, so terms past f^23 are below 1e-17 of the result.
  const double f = (m - 1.0) / (m + 1.0);
  const double f2 = f * f;
  double series = 1.0 / 23.0;
  for (int k = 21; k >= 1; k -= 2) {
    series = series * f2 + 1.0 / k;
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
  // x = k ln2 + r with |r| <= ln2/2; exp(r) by its Taylor series to r^14/14! (< 1e-17).
  const double k = std::floor(x * kInvLn2 + 0.5);
  const double r = (x - k * kLn2High) - k * kLn2Low;
  double series = 1.0 / 87178291200.0;  // 1/14!
  double factorial = 87178291200.0;
  for (int n = 14; n >= 1; --n) {
    factorial /= n;  // (n-1)!, exact: all below 2^53
    series = series * r + 1.0 / factorial;
  }
  return std::ldexp(series, static_cast<int>(k));
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
