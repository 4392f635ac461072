#include "base/stats/json_reader.h"

#include <cstdlib>

namespace pagesim::stats {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : m_text(text) {}

  JsonValue document() {
    JsonValue v = value(0);
    skip_space();
    if (m_at != m_text.size()) {
      fail("the end of the text after the value");
    }
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;  // pagesim's files nest three deep

  [[noreturn]] void fail(const std::string& expected) const {
    throw JsonError("JSON: at byte " + std::to_string(m_at) + ": expected " + expected);
  }
  void skip_space() {
    while (m_at < m_text.size() && (m_text[m_at] == ' ' || m_text[m_at] == '\n' ||
                                    m_text[m_at] == '\r' || m_text[m_at] == '\t')) {
      ++m_at;
    }
  }
  bool take(char c) {
    skip_space();
    if (m_at < m_text.size() && m_text[m_at] == c) {
      ++m_at;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!take(c)) {
      fail(std::string("'") + c + "'");
    }
  }
  bool take_word(std::string_view word) {
    if (m_text.substr(m_at, word.size()) == word) {
      m_at += word.size();
      return true;
    }
    return false;
  }

  JsonValue value(int depth) {
    if (depth > kMaxDepth) {
      fail("at most " + std::to_string(kMaxDepth) + " levels of nesting");
    }
    skip_space();
    if (m_at >= m_text.size()) {
      fail("a value");
    }
    JsonValue v;
    const char c = m_text[m_at];
    if (c == '{') {
      ++m_at;
      v.kind = JsonValue::Kind::kObject;
      if (take('}')) {
        return v;
      }
      do {
        skip_space();
        if (m_at >= m_text.size() || m_text[m_at] != '"') {
          fail("a member name (a string)");
        }
        std::string name = string();
        expect(':');
        v.members.emplace_back(std::move(name), value(depth + 1));
      } while (take(','));
      expect('}');
    } else if (c == '[') {
      ++m_at;
      v.kind = JsonValue::Kind::kArray;
      if (take(']')) {
        return v;
      }
      do {
        v.items.push_back(value(depth + 1));
      } while (take(','));
      expect(']');
    } else if (c == '"') {
      v.kind = JsonValue::Kind::kString;
      v.text = string();
    } else if (take_word("true")) {
      v.kind = JsonValue::Kind::kBool;
      v.boolean = true;
    } else if (take_word("false")) {
      v.kind = JsonValue::Kind::kBool;
    } else if (take_word("null")) {
      v.kind = JsonValue::Kind::kNull;
    } else {
      number(v);
    }
    return v;
  }

  void number(JsonValue& v) {
    const std::size_t start = m_at;
    auto digits = [&] {
      const std::size_t from = m_at;
      while (m_at < m_text.size() && m_text[m_at] >= '0' && m_text[m_at] <= '9') {
        ++m_at;
      }
      return m_at > from;
    };
    if (m_at < m_text.size() && m_text[m_at] == '-') {
      ++m_at;
    }
    if (m_at < m_text.size() && m_text[m_at] == '0') {
      ++m_at;  // a leading zero stands alone (RFC 8259: int = zero / digit1-9 *DIGIT)
    } else if (!digits()) {
      m_at = start;
      fail("a value (object, array, string, number, true, false or null)");
    }
    if (m_at < m_text.size() && m_text[m_at] == '.') {
      ++m_at;
      if (!digits()) {
        fail("digits after the decimal point");
      }
    }
    if (m_at < m_text.size() && (m_text[m_at] == 'e' || m_text[m_at] == 'E')) {
      ++m_at;
      if (m_at < m_text.size() && (m_text[m_at] == '+' || m_text[m_at] == '-')) {
        ++m_at;
      }
      if (!digits()) {
        fail("digits in the exponent");
      }
    }
    v.kind = JsonValue::Kind::kNumber;
    v.text = std::string(m_text.substr(start, m_at - start));
    v.number = std::strtod(v.text.c_str(), nullptr);
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  unsigned hex4() {
    if (m_at + 4 > m_text.size()) {
      fail("four hex digits after \\u");
    }
    unsigned cp = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = m_text[m_at++];
      cp <<= 4;
      if (h >= '0' && h <= '9') {
        cp |= static_cast<unsigned>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        cp |= static_cast<unsigned>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        cp |= static_cast<unsigned>(h - 'A' + 10);
      } else {
        --m_at;
        fail("four hex digits after \\u");
      }
    }
    return cp;
  }

  std::string string() {
    ++m_at;  // the opening quote
    std::string out;
    while (true) {
      if (m_at >= m_text.size()) {
        fail("the closing quote of a string");
      }
      const char c = m_text[m_at++];
      if (c == '"') {
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        --m_at;
        fail("no control character inside a string (escape it)");
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (m_at >= m_text.size()) {
        fail("an escape after the backslash");
      }
      const char e = m_text[m_at++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00 && take_word("\\u")) {
            const unsigned low = hex4();
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          --m_at;
          fail("an escape: \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX");
      }
    }
  }

  std::string_view m_text;
  std::size_t m_at = 0;
};

}  // namespace

const JsonValue* JsonValue::member(std::string_view name) const {
  for (const auto& [key, value] : members) {
    if (key == name) {
      return &value;
    }
  }
  return nullptr;
}

JsonValue parse_json(std::string_view text) { return Parser(text).document(); }

}  // namespace pagesim::stats
