#include "broker/api_json.h"

#include <fmt/format.h>

#include <cstddef>
#include <iterator>

namespace pathbench::broker {

namespace {

// A byte iterator that remembers how far the parser has read, so refusals raised from SAX events
// (which carry no position) can still say where.
class CountingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator(const char* at, const char** furthest) : at_(at), furthest_(furthest) {}
  reference operator*() const { return *at_; }
  CountingIterator& operator++() {
    ++at_;
    if (at_ > *furthest_) *furthest_ = at_;
    return *this;
  }
  CountingIterator operator++(int) {
    auto before = *this;
    ++*this;
    return before;
  }
  bool operator==(const CountingIterator& o) const { return at_ == o.at_; }
  bool operator!=(const CountingIterator& o) const { return at_ != o.at_; }

 private:
  const char* at_;
  const char** furthest_;
};

// Builds the flat object from nlohmann's SAX events and turns its parse errors into reasons.
class FlatObjectReader final : public nlohmann::json_sax<ApiJson> {
 public:
  FlatObjectReader(std::string_view body, ApiJson& out, const char** furthest)
      : body_(body), out_(out), furthest_(furthest) {}

  const std::string& error() const noexcept { return error_; }

  bool null() override { return value(nullptr); }
  bool boolean(bool v) override { return value(v); }
  bool number_integer(number_integer_t v) override { return value(v); }
  bool number_unsigned(number_unsigned_t v) override { return value(v); }
  bool number_float(number_float_t v, const string_t&) override { return value(v); }
  bool string(string_t& v) override { return value(std::move(v)); }
  bool binary(binary_t&) override { return refuse_here("expected a value"); }

  bool start_object(std::size_t) override {
    if (state_ == State::before) {
      state_ = State::in_object;
      out_ = ApiJson::object();
      return true;
    }
    return refuse_here("nested objects and arrays are not accepted here");
  }
  bool key(string_t& k) override {
    if (out_.contains(k)) return refuse(consumed(), fmt::format("duplicate key \"{}\"", k));
    key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    state_ = State::after;
    return true;
  }
  bool start_array(std::size_t) override {
    if (state_ == State::before) return expected_object();
    return refuse_here("nested objects and arrays are not accepted here");
  }
  bool end_array() override { return true; }

  bool parse_error(std::size_t position, const std::string& last_token, const nlohmann::detail::exception& ex) override {
    if (state_ == State::before) return expected_object();
    // nlohmann: "... syntax error while parsing <context> - <detail>"; the detail is either the
    // lexer's complaint ("invalid string: ...; last read: '...'") or "unexpected <token>; ...".
    const std::string_view what = ex.what();
    const std::string_view marker = "syntax error while parsing ";
    std::string_view context, detail = what;
    if (auto at = what.find(marker); at != std::string_view::npos) {
      auto rest = what.substr(at + marker.size());
      auto dash = rest.find(" - ");
      context = rest.substr(0, dash);
      detail = dash == std::string_view::npos ? rest : rest.substr(dash + 3);
    }
    const bool malformed = !detail.starts_with("unexpected ");  // the lexer's complaint
    const std::size_t byte = malformed ? (position == 0 ? 0 : position - 1) : token_start(position, detail, last_token);
    if (state_ == State::after) return refuse(byte, "trailing bytes after the object");
    // A malformed token: nlohmann's words, without the echo of what it read (it may not be UTF-8).
    if (malformed) return refuse(byte, std::string(detail.substr(0, detail.find("; last read:"))));
    if (detail.starts_with("unexpected end of input")) return refuse(body_.size(), expected_in(context));
    return refuse(byte, expected_in(context));
  }

 private:
  enum class State { before, in_object, after };

  // Where the unexpected token began: `position` is just past it; nlohmann's token text is only
  // kept for strings and numbers, so punctuation and the literal words are measured by name.
  static std::size_t token_start(std::size_t position, std::string_view detail, const std::string& last_token) {
    const std::string_view name = detail.substr(std::string_view("unexpected ").size());
    std::size_t bytes = last_token.size();
    if (name.starts_with('\'')) bytes = 1;
    else if (name.starts_with("true literal") || name.starts_with("null literal")) bytes = 4;
    else if (name.starts_with("false literal")) bytes = 5;
    return position >= bytes ? position - bytes : 0;
  }
  // What the object's grammar wanted where nlohmann's parser stopped (its context).
  static std::string expected_in(std::string_view context) {
    return context == "object key"         ? "expected a string key"
           : context == "object separator" ? "expected ':'"
           : context == "object"           ? "expected ',' or '}'"
                                           : "expected a value";
  }
  template <class T>
  bool value(T&& v) {
    if (state_ == State::before) return expected_object();
    out_[key_] = std::forward<T>(v);
    return true;
  }
  std::size_t consumed() const noexcept { return static_cast<std::size_t>(*furthest_ - body_.data()); }
  // A refusal at the byte just read (the token that started a value).
  bool refuse_here(std::string_view what) { return refuse(consumed() == 0 ? 0 : consumed() - 1, std::string(what)); }
  // Not an object at all: the first byte that is not whitespace is where '{' was expected.
  bool expected_object() {
    return refuse(body_.find_first_not_of(" \t\r\n"), "expected '{'");
  }
  bool refuse(std::size_t byte, std::string what) {
    if (error_.empty())
      error_ = byte >= body_.size() ? fmt::format("end of input: {}", what) : fmt::format("byte {}: {}", byte, what);
    return false;
  }

  std::string_view body_;
  ApiJson& out_;
  const char** furthest_;
  State state_ = State::before;
  std::string key_;
  std::string error_;
};

}  // namespace

std::string parse_api_object(std::string_view body, ApiJson& out) {
  out = ApiJson::object();
  const char* furthest = body.data();
  FlatObjectReader reader(body, out, &furthest);
  CountingIterator first(body.data(), &furthest), last(body.data() + body.size(), &furthest);
  const bool ok = ApiJson::sax_parse(first, last, &reader);
  if (ok && reader.error().empty()) return {};
  return reader.error().empty() ? std::string("not a JSON object") : reader.error();
}

std::string dump_api_json(const ApiJson& value) {
  return value.dump(-1, ' ', false, ApiJson::error_handler_t::replace);
}

}  // namespace pathbench::broker
