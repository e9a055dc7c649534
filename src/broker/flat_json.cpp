#include "broker/flat_json.h"

#include <fmt/format.h>

namespace pathbench::broker::json {

const Value* Object::find(std::string_view key) const noexcept {
  for (auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}

namespace {

class Parser {
 public:
  explicit Parser(std::string_view in) : in_(in) {}

  std::string object(Object& out) {
    out.members.clear();
    skip_space();
    if (!take('{')) return error("expected '{'");
    skip_space();
    if (!take('}')) {
      for (;;) {
        skip_space();
        std::string key;
        if (peek() != '"') return error("expected a string key");
        if (auto e = string(key); !e.empty()) return e;
        if (out.find(key)) return error(fmt::format("duplicate key \"{}\"", key));
        skip_space();
        if (!take(':')) return error("expected ':'");
        skip_space();
        Value value;
        if (auto e = scalar(value); !e.empty()) return e;
        out.members.emplace_back(std::move(key), std::move(value));
        skip_space();
        if (take(',')) continue;
        if (take('}')) break;
        return error("expected ',' or '}'");
      }
    }
    skip_space();
    if (pos_ != in_.size()) return error("trailing bytes after the object");
    return {};
  }

 private:
  char peek() const noexcept { return pos_ < in_.size() ? in_[pos_] : '\0'; }
  bool take(char c) noexcept {
    if (pos_ < in_.size() && in_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void skip_space() noexcept {
    while (pos_ < in_.size() && (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r')) ++pos_;
  }
  std::string error(std::string_view what) const {
    if (pos_ >= in_.size()) return fmt::format("end of input: {}", what);
    return fmt::format("byte {}: {}", pos_, what);
  }

  std::string scalar(Value& v) {
    const char c = peek();
    if (c == '"') {
      v.kind = Value::Kind::string;
      return string(v.text);
    }
    if (c == '{' || c == '[') return error("nested objects and arrays are not accepted here");
    for (std::string_view word : {"true", "false", "null"}) {
      if (in_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        v.kind = word == "null" ? Value::Kind::null : Value::Kind::boolean;
        v.text = word == "null" ? "" : std::string(word);
        return {};
      }
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(v);
    return error("expected a value");
  }

  // RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  std::string number(Value& v) {
    const std::size_t start = pos_;
    auto digits = [&] {
      std::size_t n = 0;
      while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') ++pos_, ++n;
      return n;
    };
    take('-');
    if (take('0')) {
    } else if (digits() == 0) {
      return error("bad number");
    }
    if (take('.') && digits() == 0) return error("bad number: digits expected after '.'");
    if (take('e') || take('E')) {
      if (!take('+')) take('-');
      if (digits() == 0) return error("bad number: digits expected in the exponent");
    }
    v.kind = Value::Kind::number;
    v.text = std::string(in_.substr(start, pos_ - start));
    return {};
  }

  bool hex4(unsigned& out) {
    if (in_.size() - pos_ < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = in_[pos_++];
      out <<= 4;
      if (c >= '0' && c <= '9') out |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') out |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') out |= static_cast<unsigned>(c - 'A' + 10);
      else return false;
    }
    return true;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string string(std::string& out) {
    out.clear();
    ++pos_;  // the opening quote
    for (;;) {
      if (pos_ >= in_.size()) return error("unterminated string");
      const char c = in_[pos_++];
      if (c == '"') return {};
      if (static_cast<unsigned char>(c) < 0x20) {
        --pos_;
        return error("raw control character in a string");
      }
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= in_.size()) return error("unterminated escape");
      const char e = in_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          unsigned cp = 0;
          if (!hex4(cp)) return error("bad \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned low = 0;
            if (!take('\\') || !take('u') || !hex4(low) || low < 0xDC00 || low > 0xDFFF)
              return error("unpaired surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return error("unpaired surrogate in a \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          --pos_;
          return error("unknown escape");
      }
    }
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string parse_flat_object(std::string_view input, Object& out) { return Parser(input).object(out); }

void append_string(std::string& out, std::string_view value) {
  out.push_back('"');
  for (char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else out.push_back(c);
    }
  }
  out.push_back('"');
}

}  // namespace pathbench::broker::json
