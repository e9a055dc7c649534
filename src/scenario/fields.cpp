#include "scenario/fields.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <tuple>

#include "core/host_port.h"

namespace pathbench::scenario_fields {

namespace {

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

// What was found, for messages: the value itself when it is short, else its type.
std::string found(const toml::node& node) {
  if (auto s = node.as_string()) return fmt::format("\"{}\"", s->get());
  if (auto i = node.as_integer()) return fmt::format("{}", i->get());
  if (auto f = node.as_floating_point()) return fmt::format("{}", f->get());
  if (auto b = node.as_boolean()) return b->get() ? "true" : "false";
  return std::string(type_name(node));
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

void insert_json(toml::array& array, const nlohmann::json& value);

template <class Insert>
void convert(const nlohmann::json& value, Insert&& insert) {
  if (value.is_object()) insert(json_to_toml(value));
  else if (value.is_array()) {
    toml::array array;
    for (const auto& element : value) insert_json(array, element);
    insert(std::move(array));
  } else if (value.is_string()) insert(value.get<std::string>());
  else if (value.is_boolean()) insert(value.get<bool>());
  else if (value.is_number_float()) insert(value.get<double>());
  else if (value.is_number()) insert(value.get<std::int64_t>());
}

void insert_json(toml::array& array, const nlohmann::json& value) {
  convert(value, [&array](auto&& v) { array.push_back(std::forward<decltype(v)>(v)); });
}

}  // namespace

void Reporter::error(const toml::source_region& where, std::string message) {
  error_at(static_cast<int>(where.begin.line), static_cast<int>(where.begin.column), std::move(message));
}

void Reporter::error_at(int line, int column, std::string message) {
  diagnostics_.push_back({file_, line, column, std::move(message)});
}

void Reporter::throw_if_any() {
  if (diagnostics_.empty()) return;
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  throw ScenarioError(std::move(diagnostics_));
}

std::string TableReader::key_path(std::string_view key) const {
  return prefix_.empty() ? std::string(key) : fmt::format("{}.{}", prefix_, key);
}

const toml::node* TableReader::node(std::string_view key) {
  known_.emplace(key);
  return table_.get(key);
}

void TableReader::error(const toml::node& at, std::string_view key, std::string_view expected) {
  reporter_.error(at.source(), fmt::format("{}: expected {}, found {}", key_path(key), expected, found(at)));
}

const toml::table* TableReader::table(std::string_view key) {
  auto n = node(key);
  if (!n) return nullptr;
  if (auto t = n->as_table()) return t;
  error(*n, key, "a table");
  return nullptr;
}

const toml::array* TableReader::array_of_tables(std::string_view key, std::string_view what) {
  auto n = node(key);
  if (!n) return nullptr;
  auto array = n->as_array();
  if (array && array->is_array_of_tables()) return array;
  error(*n, key, fmt::format("an array of tables ({})", what));
  return nullptr;
}

void TableReader::reject_unknown_keys() {
  for (auto&& [key, value] : table_) {
    if (known_.count(std::string(key.str()))) continue;
    std::string suggestion;
    std::size_t best = 3;
    for (auto& k : known_) {
      auto d = edit_distance(key.str(), k);
      if (d < best) best = d, suggestion = k;
    }
    std::string msg = fmt::format("unknown key '{}'", key_path(key.str()));
    if (!suggestion.empty()) msg += fmt::format(" (did you mean '{}'?)", suggestion);
    else msg += fmt::format(" (known here: {})", fmt::join(known_, ", "));
    reporter_.error(key.source(), std::move(msg));
  }
}

toml::table json_to_toml(const nlohmann::json& object) {
  toml::table table;
  for (const auto& [key, value] : object.items())
    convert(value, [&table, &key](auto&& v) { table.insert(key, std::forward<decltype(v)>(v)); });
  return table;
}

namespace detail {

std::string expected_integer(std::int64_t min, std::int64_t max) { return fmt::format("an integer in {}..{}", min, max); }

std::string expected_number(double min, double max, bool positive) {
  return positive ? fmt::format("a number > 0 and <= {}", max) : fmt::format("a number in {}..{}", min, max);
}

std::string_view expected_duration(bool nonzero) {
  return nonzero ? "a duration > 0 such as \"30s\" or \"250ms\"" : "a duration such as \"30s\", \"250ms\" or \"0s\"";
}

std::optional<double> as_number(const toml::node& node) {
  if (auto i = node.as_integer()) return static_cast<double>(i->get());
  if (auto f = node.as_floating_point()) return f->get();
  return std::nullopt;
}

bool is_endpoint(std::string_view text) { return parse_host_port(text).has_value(); }

}  // namespace detail

}  // namespace pathbench::scenario_fields
