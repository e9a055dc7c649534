// JSON for the broker's HTTP front (GopherMQ's /api/*, docs/broker-fronts.md) on nlohmann-json:
// the strict reading of a request body and the writing of a reply.
//
// A request body is exactly one object whose values are strings, numbers, booleans or null — no
// nesting, no duplicate keys, no bytes after it; strings as RFC 8259 has them (UTF-8, escapes,
// \uXXXX pairs, no raw control characters). A refusal names what was wrong and where
// ("byte 7: expected a string key", "end of input: expected ',' or '}'").
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace pathbench::broker {

// Members keep their document order (replies are written in the order the docs show).
using ApiJson = nlohmann::ordered_json;

// Parses `body` into `out` (an object). Returns "" or the reason it is not a flat JSON object.
std::string parse_api_object(std::string_view body, ApiJson& out);

// `value` written compactly on one line; bytes that are not UTF-8 (a message published through
// another front) become U+FFFD rather than invalid JSON.
std::string dump_api_json(const ApiJson& value);

}  // namespace pathbench::broker
