// A reader of the JSON that pagesim writes (stats::to_json, the provenance object,
// compare's file), for `pagesim diff` and the tests: RFC 8259 values, with numbers kept
// as their text beside their double (a counter above 2^53 compares exactly) and object
// members in file order.
//
//   const JsonValue v = parse_json(text);     // throws JsonError naming the byte offset
//   v.member("sim.accesses")->number         // nullptr when the object has no such member
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pagesim::stats {

class JsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string text;              // a string's contents, or a number as written
  std::vector<JsonValue> items;  // an array's
  std::vector<std::pair<std::string, JsonValue>> members;  // an object's, in order

  // The member named `name` of an object (the first, if repeated), else nullptr.
  const JsonValue* member(std::string_view name) const;
};

// The value `text` holds (surrounding whitespace allowed). Throws JsonError, naming the
// byte offset and what was expected there, for anything else.
JsonValue parse_json(std::string_view text);

}  // namespace pagesim::stats
