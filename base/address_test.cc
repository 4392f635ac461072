#include "base/address.h"

#include <gtest/gtest.h>

#include <type_traits>

namespace pagesim {
namespace {

// DESIGN.md: "a GPA passed where an HPA is expected must not compile". No space converts
// to another, and no bare integer converts to an address.
static_assert(!std::is_convertible_v<Gpa, Hpa>);
static_assert(!std::is_convertible_v<Hpa, Gpa>);
static_assert(!std::is_convertible_v<Gva, Gpa>);
static_assert(!std::is_convertible_v<Gva, Hva>);
static_assert(!std::is_convertible_v<Hva, Hpa>);
static_assert(!std::is_convertible_v<Gva, Hpa>);
static_assert(!std::is_convertible_v<std::uint64_t, Gva>);
static_assert(!std::is_constructible_v<Hpa, Gpa>);
static_assert(!std::is_assignable_v<Hpa&, Gpa>);
static_assert(std::is_trivially_copyable_v<Gva> && sizeof(Gva) == 8);

TEST(Address, PageArithmetic) {
  Gva a(0x7fff'1234'5678);
  EXPECT_EQ(a.page_number(12), 0x7fff'1234'5u);
  EXPECT_EQ(a.page_offset(12), 0x678u);
  EXPECT_EQ(a.page_base(21).value(), 0x7fff'1220'0000u);
  EXPECT_EQ((a + 8).value(), 0x7fff'1234'5680u);
  EXPECT_LT(Gva(1), Gva(2));
}

}  // namespace
}  // namespace pagesim
