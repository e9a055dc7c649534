// The scenario loader's field machinery (internal to the scenario layer). Each key of a scenario
// table is declared once as a Field: its key, the member it binds to, its kind (string, integer
// or number with a range, duration, boolean, enum, endpoint list, sub-table), default (the
// member's initializer in scenario.h) and checks. That one declaration reads and validates the
// key from TOML (messages "key.path: expected X, found Y" at the value's file:line:col) and
// writes it back (write_fields: a JSON tree, which scenario_to_json dumps and scenario_to_toml
// converts), so reading and serializing cannot drift apart.
#pragma once
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "scenario/loader.h"

namespace pathbench::scenario_fields {

// Collects diagnostics with source positions for one file; throws them sorted by position.
class Reporter {
 public:
  explicit Reporter(std::string file) : file_(std::move(file)) {}
  void error(const toml::source_region& where, std::string message);
  void error_at(int line, int column, std::string message);
  void error_no_position(std::string message) { diagnostics_.push_back({file_, 0, 0, std::move(message)}); }
  void throw_if_any();
  const std::string& file() const noexcept { return file_; }
  bool has_errors() const noexcept { return !diagnostics_.empty(); }

 private:
  std::string file_;
  std::vector<Diagnostic> diagnostics_;
};

// Reads the keys of one table, remembering which it used so the rest can be reported as unknown.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string prefix, Reporter& reporter)
      : table_(table), prefix_(std::move(prefix)), reporter_(reporter) {}
  TableReader(const TableReader&) = delete;
  TableReader& operator=(const TableReader&) = delete;

  std::string key_path(std::string_view key) const;
  const std::string& prefix() const noexcept { return prefix_; }
  // The key's value, or nullptr; marks the key as known either way.
  const toml::node* node(std::string_view key);
  // "key.path: expected `expected`, found <the value, or its type>" at the value's position.
  void error(const toml::node& at, std::string_view key, std::string_view expected);
  // The sub-table under `key`, or nullptr (reported when the key holds something else).
  const toml::table* table(std::string_view key);
  // The array of tables under `key`, or nullptr (reported as "an array of tables (`what`)").
  const toml::array* array_of_tables(std::string_view key, std::string_view what);
  // Every key no reader asked for, with the nearest known one ("did you mean") or the list.
  void reject_unknown_keys();

  const toml::table& raw() const noexcept { return table_; }
  Reporter& reporter() noexcept { return reporter_; }

 private:
  const toml::table& table_;
  std::string prefix_;
  Reporter& reporter_;
  std::set<std::string, std::less<>> known_;
};

template <class E>
struct Choice {
  std::string_view name;
  E value;
};

template <class T>
struct TableSpec;

template <class T>
struct Field {
  using Check = std::optional<std::string> (*)(const T& object);  // the expected text when bad
  std::string_view key;
  std::int64_t int_min = 0, int_max = 0;  // integer
  double min = 0, max = 0;                // number
  bool nonzero = false;                   // number: > 0 (message "a number > 0 and <= max"); duration: > 0
  const void* detail = nullptr;           // choice: Choice<E>[detail_size]; table: TableSpec<member>
  std::size_t detail_size = 0;
  Check check = nullptr;                  // run after the key was read successfully
  bool (*omit)(const T& object) = nullptr;  // not written when true
  void (*read)(const Field& field, TableReader& reader, T& object) = nullptr;
  void (*write)(const Field& field, const T& object, nlohmann::json& table) = nullptr;

  Field checked(Check c) const {
    Field f = *this;
    f.check = c;
    return f;
  }
  Field omitted_when(bool (*predicate)(const T&)) const {
    Field f = *this;
    f.omit = predicate;
    return f;
  }
};

// A table's fields plus what cannot be said field by field.
template <class T>
struct TableSpec {
  std::span<const Field<T>> fields;
  void (*on_present)(T& object) = nullptr;                 // before its fields, when the table is written
  void (*after)(TableReader& reader, T& object) = nullptr;  // rules across fields, arrays of tables
  void (*write_extra)(const T& object, nlohmann::json& table) = nullptr;
};

template <class T>
void read_fields(std::span<const Field<T>> fields, TableReader& reader, T& object) {
  for (const Field<T>& f : fields) f.read(f, reader, object);
}

template <class T>
void read_table(const TableSpec<T>& spec, TableReader& reader, T& object) {
  if (spec.on_present) spec.on_present(object);
  read_fields(spec.fields, reader, object);
  if (spec.after) spec.after(reader, object);
  reader.reject_unknown_keys();
}

template <class T>
void write_fields(std::span<const Field<T>> fields, const T& object, nlohmann::json& table) {
  for (const Field<T>& f : fields)
    if (!f.omit || !f.omit(object)) f.write(f, object, table);
}

template <class T>
nlohmann::json write_table(const TableSpec<T>& spec, const T& object) {
  nlohmann::json table = nlohmann::json::object();
  write_fields(spec.fields, object, table);
  if (spec.write_extra) spec.write_extra(object, table);
  return table;
}

// The same tree as TOML (objects become tables, arrays of objects arrays of tables).
toml::table json_to_toml(const nlohmann::json& object);

// ---------------------------------------------------------------------------------------------
// Field declarations: the member is named by a path of pointers to members, outermost first,
// e.g. integer<&BalancerConfig::routing, &BalancerPolicyConfig::max_pending>("max_pending", 1, 10).

namespace detail {

template <class C, class V>
C object_type(V C::*);

template <auto First, auto... Rest>
constexpr auto& member(auto& object) {
  if constexpr (sizeof...(Rest) == 0) return object.*First;
  else return member<Rest...>(object.*First);
}

template <auto First, auto... Rest>
struct PathTraits {
  using object = decltype(object_type(First));
  using value = std::remove_cvref_t<decltype(member<First, Rest...>(std::declval<object&>()))>;
};
template <auto... Path>
using Object = typename PathTraits<Path...>::object;
template <auto... Path>
using Value = typename PathTraits<Path...>::value;

std::string expected_integer(std::int64_t min, std::int64_t max);
std::string expected_number(double min, double max, bool positive);
std::string_view expected_duration(bool nonzero);
std::optional<double> as_number(const toml::node& node);
bool is_endpoint(std::string_view text);

template <class T>
void run_check(const Field<T>& f, TableReader& r, const toml::node& n, const T& object) {
  if (!f.check) return;
  if (auto expected = f.check(object)) r.error(n, f.key, *expected);
}

template <class T, auto... Path>
void read_string(const Field<T>& f, TableReader& r, T& object) {
  auto n = r.node(f.key);
  if (!n) return;
  auto s = n->as_string();
  if (!s) return r.error(*n, f.key, "a string");
  member<Path...>(object) = s->get();
  run_check(f, r, *n, object);
}

template <class T, auto... Path>
void read_endpoint(const Field<T>& f, TableReader& r, T& object) {
  auto n = r.node(f.key);
  if (!n) return;
  auto s = n->as_string();
  if (!s) return r.error(*n, f.key, "a string");
  member<Path...>(object) = s->get();
  if (!s->get().empty() && !is_endpoint(s->get())) r.error(*n, f.key, "a \"host:port\" string");
}

template <class T, auto... Path>
void read_endpoints(const Field<T>& f, TableReader& r, T& object) {
  auto n = r.node(f.key);
  if (!n) return;
  auto array = n->as_array();
  if (!array) return r.error(*n, f.key, "an array of \"host:port\" strings");
  auto& out = member<Path...>(object);
  for (auto& e : *array) {
    auto s = e.as_string();
    if (!s || !is_endpoint(s->get())) r.error(e, f.key, "a \"host:port\" string");
    else out.push_back(s->get());
  }
}

template <class T, auto... Path>
void read_integer(const Field<T>& f, TableReader& r, T& object) {
  auto n = r.node(f.key);
  if (!n) return;
  auto i = n->as_integer();
  if (!i || i->get() < f.int_min || i->get() > f.int_max)
    return r.error(*n, f.key, expected_integer(f.int_min, f.int_max));
  using V = Value<Path...>;
  member<Path...>(object) = static_cast<V>(i->get());
  run_check(f, r, *n, object);
}

template <class T, auto... Path>
void read_number(const Field<T>& f, TableReader& r, T& object) {
  auto n = r.node(f.key);
  if (!n) return;
  auto v = as_number(*n);
  if (!v || !std::isfinite(*v) || *v < f.min || *v > f.max || (f.nonzero && *v <= 0))
    return r.error(*n, f.key, expected_number(f.min, f.max, f.nonzero));
  member<Path...>(object) = *v;
  run_check(f, r, *n, object);
}

template <class T, auto... Path>
void read_boolean(const Field<T>& f, TableReader& r, T& object) {
  auto n = r.node(f.key);
  if (!n) return;
  auto b = n->as_boolean();
  if (!b) return r.error(*n, f.key, "true or false");
  member<Path...>(object) = b->get();
  run_check(f, r, *n, object);
}

template <class T, auto... Path>
void read_duration(const Field<T>& f, TableReader& r, T& object) {
  auto n = r.node(f.key);
  if (!n) return;
  auto s = n->as_string();
  Nanos value = 0;
  if (!s || !parse_duration(s->get(), value) || (f.nonzero && value == 0))
    return r.error(*n, f.key, expected_duration(f.nonzero));
  member<Path...>(object) = value;
  run_check(f, r, *n, object);
}

template <class E>
std::string expected_choice(const Choice<E>* options, std::size_t count) {
  std::string expected = "one of";
  for (std::size_t k = 0; k < count; ++k) {
    expected += k ? ", \"" : " \"";
    expected += options[k].name;
    expected += '"';
  }
  return expected;
}

template <class T, class E, auto... Path>
void read_choice(const Field<T>& f, TableReader& r, T& object) {
  auto n = r.node(f.key);
  if (!n) return;
  const auto* options = static_cast<const Choice<E>*>(f.detail);
  if (auto s = n->as_string()) {
    for (std::size_t k = 0; k < f.detail_size; ++k) {
      if (options[k].name == s->get()) {
        member<Path...>(object) = options[k].value;
        return;
      }
    }
  }
  r.error(*n, f.key, expected_choice(options, f.detail_size));
}

template <class T, auto... Path>
void read_subtable(const Field<T>& f, TableReader& r, T& object) {
  auto t = r.table(f.key);
  if (!t) return;
  TableReader sub(*t, r.key_path(f.key), r.reporter());
  read_table(*static_cast<const TableSpec<Value<Path...>>*>(f.detail), sub, member<Path...>(object));
}

// A sub-table whose keys bind to the object of the table around it (query.mix).
template <class T>
void read_nested(const Field<T>& f, TableReader& r, T& object) {
  auto t = r.table(f.key);
  if (!t) return;
  TableReader sub(*t, r.key_path(f.key), r.reporter());
  read_table(*static_cast<const TableSpec<T>*>(f.detail), sub, object);
}

template <class T>
void write_nested(const Field<T>& f, const T& object, nlohmann::json& table) {
  table[std::string(f.key)] = write_table(*static_cast<const TableSpec<T>*>(f.detail), object);
}

template <class T, auto... Path>
void write_value(const Field<T>& f, const T& object, nlohmann::json& table) {
  const auto& value = member<Path...>(object);
  using V = Value<Path...>;
  nlohmann::json& out = table[std::string(f.key)];
  if constexpr (std::is_same_v<V, std::filesystem::path>) out = value.string();
  else if constexpr (std::is_same_v<V, bool> || std::is_same_v<V, double> || std::is_same_v<V, std::string> ||
                     std::is_same_v<V, std::vector<std::string>>) out = value;
  else out = static_cast<std::int64_t>(value);  // integers, seed included (read as 0..INT64_MAX)
}

template <class T, auto... Path>
void write_duration(const Field<T>& f, const T& object, nlohmann::json& table) {
  table[std::string(f.key)] = format_duration(member<Path...>(object));
}

template <class T, class E, auto... Path>
void write_choice(const Field<T>& f, const T& object, nlohmann::json& table) {
  const auto* options = static_cast<const Choice<E>*>(f.detail);
  std::string_view name = "?";
  for (std::size_t k = 0; k < f.detail_size; ++k)
    if (options[k].value == member<Path...>(object)) name = options[k].name;
  table[std::string(f.key)] = std::string(name);
}

template <class T, auto... Path>
void write_subtable(const Field<T>& f, const T& object, nlohmann::json& table) {
  table[std::string(f.key)] = write_table(*static_cast<const TableSpec<Value<Path...>>*>(f.detail),
                                          member<Path...>(object));
}

}  // namespace detail

// A string (or file path); `check` may refuse its value.
template <auto First, auto... Rest>
Field<detail::Object<First, Rest...>> text(std::string_view key) {
  using T = detail::Object<First, Rest...>;
  return {.key = key, .read = &detail::read_string<T, First, Rest...>, .write = &detail::write_value<T, First, Rest...>};
}

// A "host:port" string, or "" for none.
template <auto First, auto... Rest>
Field<detail::Object<First, Rest...>> endpoint(std::string_view key) {
  using T = detail::Object<First, Rest...>;
  return {.key = key, .read = &detail::read_endpoint<T, First, Rest...>, .write = &detail::write_value<T, First, Rest...>};
}

// An array of "host:port" strings.
template <auto First, auto... Rest>
Field<detail::Object<First, Rest...>> endpoints(std::string_view key) {
  using T = detail::Object<First, Rest...>;
  return {.key = key, .read = &detail::read_endpoints<T, First, Rest...>, .write = &detail::write_value<T, First, Rest...>};
}

// An integer in [min, max].
template <auto First, auto... Rest>
Field<detail::Object<First, Rest...>> integer(std::string_view key, std::int64_t min, std::int64_t max) {
  using T = detail::Object<First, Rest...>;
  return {.key = key, .int_min = min, .int_max = max, .read = &detail::read_integer<T, First, Rest...>,
          .write = &detail::write_value<T, First, Rest...>};
}

// An integer or float in [min, max]; `positive` excludes zero.
template <auto First, auto... Rest>
Field<detail::Object<First, Rest...>> number(std::string_view key, double min, double max, bool positive) {
  using T = detail::Object<First, Rest...>;
  return {.key = key, .min = min, .max = max, .nonzero = positive, .read = &detail::read_number<T, First, Rest...>,
          .write = &detail::write_value<T, First, Rest...>};
}

template <auto First, auto... Rest>
Field<detail::Object<First, Rest...>> boolean(std::string_view key) {
  using T = detail::Object<First, Rest...>;
  return {.key = key, .read = &detail::read_boolean<T, First, Rest...>, .write = &detail::write_value<T, First, Rest...>};
}

// A duration string ("30s", "250ms"); `allow_zero` accepts "0s".
template <auto First, auto... Rest>
Field<detail::Object<First, Rest...>> duration(std::string_view key, bool allow_zero) {
  using T = detail::Object<First, Rest...>;
  return {.key = key, .nonzero = !allow_zero, .read = &detail::read_duration<T, First, Rest...>,
          .write = &detail::write_duration<T, First, Rest...>};
}

// One of the names of `options` (written back by name).
template <auto First, auto... Rest, class E, std::size_t N>
Field<detail::Object<First, Rest...>> choice(std::string_view key, const std::array<Choice<E>, N>& options) {
  using T = detail::Object<First, Rest...>;
  return {.key = key, .detail = options.data(), .detail_size = N, .read = &detail::read_choice<T, E, First, Rest...>,
          .write = &detail::write_choice<T, E, First, Rest...>};
}

// A sub-table read and written by its own spec (which must outlive the field).
template <auto First, auto... Rest>
Field<detail::Object<First, Rest...>> table(std::string_view key,
                                            const TableSpec<detail::Value<First, Rest...>>& spec) {
  using T = detail::Object<First, Rest...>;
  return {.key = key, .detail = &spec, .read = &detail::read_subtable<T, First, Rest...>,
          .write = &detail::write_subtable<T, First, Rest...>};
}

// A sub-table whose keys belong to the same object as the table around it.
template <class T>
Field<T> nested(std::string_view key, const TableSpec<T>& spec) {
  return {.key = key, .detail = &spec, .read = &detail::read_nested<T>, .write = &detail::write_nested<T>};
}

}  // namespace pathbench::scenario_fields
