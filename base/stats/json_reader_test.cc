#include "base/stats/json_reader.h"

#include <gtest/gtest.h>

#include "base/stats/stats.h"

namespace pagesim::stats {
namespace {

TEST(JsonReader, ReadsWhatToJsonWrites) {
  std::vector<Row> rows = {
      Row{"a.count", "", std::uint64_t{18446744073709551615ULL}}, Row{"a.ratio", "", 0.25},
      Row{"h", "", std::vector<std::pair<std::string, std::uint64_t>>{{"0", 3}, {"1-2", 4}}}};
  const JsonValue v = parse_json(to_json(rows, {{"provenance", "{\"s\": \"x\\\"y\\n\"}"}}));
  ASSERT_EQ(v.kind, JsonValue::Kind::kObject);
  ASSERT_EQ(v.members.size(), 4u);
  EXPECT_EQ(v.members[0].first, "provenance");  // in file order
  EXPECT_EQ(v.member("provenance")->member("s")->text, "x\"y\n");
  // A counter above 2^53 keeps its digits as text.
  EXPECT_EQ(v.member("a.count")->text, "18446744073709551615");
  EXPECT_EQ(v.member("a.ratio")->number, 0.25);
  EXPECT_EQ(v.member("h")->member("1-2")->number, 4);
  EXPECT_EQ(v.member("absent"), nullptr);
}

TEST(JsonReader, ValuesOfEveryKind) {
  const JsonValue v = parse_json(
      " [true, false, null, -1.5e3, \"\\u00e9\\ud83d\\ude00\\/\", {}, [], {\"a\": [1]}] ");
  ASSERT_EQ(v.items.size(), 8u);
  EXPECT_TRUE(v.items[0].boolean);
  EXPECT_EQ(v.items[1].kind, JsonValue::Kind::kBool);
  EXPECT_EQ(v.items[2].kind, JsonValue::Kind::kNull);
  EXPECT_EQ(v.items[3].number, -1500);
  EXPECT_EQ(v.items[4].text, "\xc3\xa9\xf0\x9f\x98\x80/");  // UTF-8 of U+00E9, U+1F600
  EXPECT_EQ(v.items[7].member("a")->items[0].number, 1);
}

TEST(JsonReader, ErrorsNameTheByte) {
  for (const auto& [text, where] : std::vector<std::pair<std::string, std::string>>{
           {"{\"a\": 1,}", "at byte 8: expected a member name"},
           {"{\"a\" 1}", "at byte 5: expected ':'"},
           {"[1, 2", "at byte 5: expected ']'"},
           {"\"abc", "at byte 4: expected the closing quote"},
           {"01x", "at byte 1: expected the end of the text"},
           {"", "at byte 0: expected a value"},
           {"{\"a\": tru}", "at byte 6: expected a value"}}) {
    try {
      parse_json(text);
      ADD_FAILURE() << text;
    } catch (const JsonError& e) {
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << text << ": " << e.what();
    }
  }
  std::string deep(100, '[');
  EXPECT_THROW(parse_json(deep), JsonError);
}

}  // namespace
}  // namespace pagesim::stats
