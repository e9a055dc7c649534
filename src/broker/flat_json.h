// A strict parser and writer for the flat JSON objects of the broker's HTTP front (GopherMQ's
// /api/* requests): one object whose values are strings, numbers, booleans or null — no nesting.
// Boost.JSON is not among the project's dependencies (Debian ships it apart from the Boost
// libraries we install), and these objects need nothing more.
//
// Strict: exactly one object, optional whitespace around it, no duplicate keys, no trailing
// commas or bytes, strings with the escapes of RFC 8259 (\uXXXX pairs become UTF-8), raw control
// characters refused. Errors name what was wrong and where ("byte 12: expected ':'").
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace pathbench::broker::json {

struct Value {
  enum class Kind { string, number, boolean, null };
  Kind kind = Kind::null;
  std::string text;  // string: the decoded value; number: its literal; boolean: "true"/"false"
};

struct Object {
  std::vector<std::pair<std::string, Value>> members;  // in document order
  const Value* find(std::string_view key) const noexcept;
};

// Parses `input` into `out`. Returns "" or the reason it is not a flat JSON object.
std::string parse_flat_object(std::string_view input, Object& out);

// Appends `value` as a JSON string literal (quotes included): '"', '\\' and control characters
// escaped, other bytes as they are.
void append_string(std::string& out, std::string_view value);

}  // namespace pathbench::broker::json
