#include "scenario/loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>


namespace pathbench {

std::string Diagnostic::format() const {
  if (line > 0) return fmt::format("{}:{}:{}: {}", file, line, column, message);
  return fmt::format("{}: {}", file, message);
}

namespace {

std::string join_diagnostics(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const auto& d : diagnostics) {
    if (!text.empty()) text += '\n';
    text += d.format();
  }
  return text;
}

}  // namespace

ScenarioError::ScenarioError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(join_diagnostics(diagnostics)), diagnostics_(std::move(diagnostics)) {}

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

// Collects diagnostics with source positions for one file.
class Reporter {
 public:
  explicit Reporter(std::string file) : file_(std::move(file)) {}
  void error(const toml::source_region& where, std::string message) {
    diagnostics_.push_back(
        {file_, static_cast<int>(where.begin.line), static_cast<int>(where.begin.column), std::move(message)});
  }
  void error_no_position(std::string message) { diagnostics_.push_back({file_, 0, 0, std::move(message)}); }
  bool ok() const noexcept { return diagnostics_.empty(); }
  void throw_if_any() {
    if (diagnostics_.empty()) return;
    std::stable_sort(diagnostics_.begin(), diagnostics_.end(), [](const Diagnostic& a, const Diagnostic& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    throw ScenarioError(std::move(diagnostics_));
  }
  const std::string& file() const noexcept { return file_; }

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

  std::string key_path(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : fmt::format("{}.{}", prefix_, key);
  }

  const toml::node* node(std::string_view key) {
    known_.emplace(key);
    return table_.get(key);
  }

  void error(const toml::node& at, std::string_view key, std::string_view expected) {
    reporter_.error(at.source(), fmt::format("{}: expected {}, found {}", key_path(key), expected, found(at)));
  }

  void string(std::string_view key, std::string& out) {
    if (auto n = node(key)) {
      if (auto s = n->as_string()) out = s->get();
      else error(*n, key, "a string");
    }
  }

  // Accepts integers within [min, max].
  template <class Int>
  void integer(std::string_view key, Int& out, std::int64_t min, std::int64_t max) {
    auto n = node(key);
    if (!n) return;
    auto i = n->as_integer();
    if (!i) return error(*n, key, fmt::format("an integer in {}..{}", min, max));
    if (i->get() < min || i->get() > max) return error(*n, key, fmt::format("an integer in {}..{}", min, max));
    out = static_cast<Int>(i->get());
  }

  // Accepts integers and floats; `positive` excludes zero.
  void number(std::string_view key, double& out, double min, double max, bool positive) {
    auto n = node(key);
    if (!n) return;
    std::optional<double> v;
    if (auto i = n->as_integer()) v = static_cast<double>(i->get());
    if (auto f = n->as_floating_point()) v = f->get();
    std::string expected = positive ? fmt::format("a number > 0 and <= {}", max)
                                    : fmt::format("a number in {}..{}", min, max);
    if (!v || !std::isfinite(*v) || *v < min || *v > max || (positive && *v <= 0)) return error(*n, key, expected);
    out = *v;
  }

  void boolean(std::string_view key, bool& out) {
    if (auto n = node(key)) {
      if (auto b = n->as_boolean()) out = b->get();
      else error(*n, key, "true or false");
    }
  }

  void duration(std::string_view key, Nanos& out, bool allow_zero) {
    auto n = node(key);
    if (!n) return;
    std::string_view expected = allow_zero ? "a duration such as \"30s\", \"250ms\" or \"0s\""
                                           : "a duration > 0 such as \"30s\" or \"250ms\"";
    auto s = n->as_string();
    Nanos value = 0;
    if (!s || !parse_duration(s->get(), value) || (!allow_zero && value == 0)) return error(*n, key, expected);
    out = value;
  }

  template <class Enum, std::size_t N>
  void choice(std::string_view key, Enum& out, const std::array<std::pair<std::string_view, Enum>, N>& options) {
    auto n = node(key);
    if (!n) return;
    std::string expected = "one of";
    for (std::size_t k = 0; k < N; ++k) expected += fmt::format("{}\"{}\"", k ? ", " : " ", options[k].first);
    auto s = n->as_string();
    if (!s) return error(*n, key, expected);
    for (auto& [name, value] : options) {
      if (name == s->get()) {
        out = value;
        return;
      }
    }
    error(*n, key, expected);
  }

  const toml::table* table(std::string_view key) {
    auto n = node(key);
    if (!n) return nullptr;
    if (auto t = n->as_table()) return t;
    error(*n, key, "a table");
    return nullptr;
  }

  // Reports every key that no reader asked for, suggesting the nearest known one.
  void reject_unknown_keys() {
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

  const toml::table& raw() const noexcept { return table_; }
  Reporter& reporter() noexcept { return reporter_; }

 private:
  const toml::table& table_;
  std::string prefix_;
  Reporter& reporter_;
  std::set<std::string, std::less<>> known_;
};

constexpr std::array<std::pair<std::string_view, LoadMode>, 2> kModes{{{"open", LoadMode::open},
                                                                        {"closed", LoadMode::closed}}};
constexpr std::array<std::pair<std::string_view, Arrival>, 2> kArrivals{
    {{"constant", Arrival::constant}, {"poisson", Arrival::poisson}}};

constexpr std::int64_t kMaxConcurrency = 1'000'000;
constexpr std::int64_t kMaxThreads = 256;
constexpr double kMaxRate = 10'000'000.0;

void read_load(TableReader& r, LoadConfig& load) {
  r.choice("mode", load.mode, kModes);
  r.choice("arrival", load.arrival, kArrivals);
  r.number("rate_per_s", load.rate_per_s, 0, kMaxRate, true);
  r.integer("concurrency", load.concurrency, 1, kMaxConcurrency);
  r.integer("threads", load.threads, 1, kMaxThreads);
  r.duration("duration", load.duration_ns, false);
  r.duration("warmup", load.warmup_ns, true);
  r.duration("deadline", load.deadline_ns, false);
  if (auto n = r.node("phase")) {
    auto array = n->as_array();
    if (!array || !array->is_array_of_tables()) {
      r.error(*n, "phase", "an array of tables ([[load.phase]] entries)");
    } else {
      if (auto d = r.raw().get("duration"))
        r.reporter().error(d->source(), "load.duration: cannot be used with [[load.phase]] (each phase has its own duration)");
      std::set<std::string> names;
      std::size_t index = 0;
      for (auto& element : *array) {
        const toml::table& t = *element.as_table();
        TableReader pr(t, fmt::format("load.phase[{}]", index), r.reporter());
        LoadPhase phase;
        phase.name = fmt::format("phase{}", index + 1);
        pr.string("name", phase.name);
        if (auto nn = t.get("name");
            nn && (phase.name.empty() || phase.name == "warmup" || phase.name == "drain" || !names.insert(phase.name).second))
          pr.error(*nn, "name", "a name other than \"warmup\" or \"drain\", unique among the phases");
        if (!t.get("duration"))
          r.reporter().error(t.source(), fmt::format("load.phase[{}]: missing key 'duration'", index));
        pr.duration("duration", phase.duration_ns, false);
        pr.number("rate_per_s", phase.rate_per_s, 0, kMaxRate, true);
        pr.number("ramp_to_per_s", phase.ramp_to_per_s, 0, kMaxRate, true);
        pr.reject_unknown_keys();
        load.phases.push_back(std::move(phase));
        ++index;
      }
    }
  }
  r.reject_unknown_keys();
}

void read_database(TableReader& r, DatabaseConfig& db) {
  std::string path = db.path.string();
  r.string("path", path);
  if (auto n = r.raw().get("path"); n && path.empty()) r.error(*n, "path", "a non-empty file path");
  db.path = path;
  r.integer("sales", db.sales, 1, 100'000'000);
  r.reject_unknown_keys();
}

void read_query(TableReader& r, QueryMixConfig& query) {
  if (auto mix = r.table("mix")) {
    TableReader m(*mix, r.key_path("mix"), r.reporter());
    // A mix names the kinds it wants; the ones it leaves out get weight 0.
    query.echo_weight = query.point_weight = query.heavy_weight = 0;
    m.number("echo", query.echo_weight, 0, 1e9, false);
    m.number("point", query.point_weight, 0, 1e9, false);
    m.number("heavy", query.heavy_weight, 0, 1e9, false);
    m.reject_unknown_keys();
    if (query.echo_weight + query.point_weight + query.heavy_weight <= 0)
      r.reporter().error(mix->source(), fmt::format("{}: expected at least one weight > 0, found all 0",
                                                    r.key_path("mix")));
  }
  r.integer("heavy_range_days", query.heavy_range_days, 1, 3650);
  r.integer("heavy_window_minutes", query.heavy_window_minutes, 1, 1440);
  r.reject_unknown_keys();
}

// "host:port" with a port in 1..65535.
bool valid_endpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  int port = 0;
  auto digits = text.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  return ec == std::errc() && ptr == digits.data() + digits.size() && port > 0 && port < 65536;
}

void read_endpoints(TableReader& r, std::string_view key, std::vector<std::string>& out) {
  auto n = r.node(key);
  if (!n) return;
  auto array = n->as_array();
  if (!array) return r.error(*n, key, "an array of \"host:port\" strings");
  for (auto& e : *array) {
    auto s = e.as_string();
    if (!s || !valid_endpoint(s->get()))
      r.error(e, key, "a \"host:port\" string");
    else
      out.push_back(s->get());
  }
}

void read_workers(TableReader& r, WorkersConfig& workers) {
  r.integer("count", workers.count, 1, 64);
  r.integer("threads", workers.threads, 1, 64);
  r.integer("max_queue", workers.max_queue, 1, 1'000'000);
  r.string("listen_host", workers.listen_host);
  read_endpoints(r, "endpoints", workers.endpoints);
  read_endpoints(r, "ws_endpoints", workers.ws_endpoints);
  if (!workers.ws_endpoints.empty() && workers.ws_endpoints.size() != workers.endpoints.size()) {
    if (auto n = r.raw().get("ws_endpoints"))
      r.error(*n, "ws_endpoints", fmt::format("one WebSocket address per workers.endpoints entry ({})", workers.endpoints.size()));
  }
  r.reject_unknown_keys();
}

constexpr std::array<std::pair<std::string_view, RoutingPolicy>, 3> kPolicies{
    {{"least_outstanding", RoutingPolicy::least_outstanding},
     {"p2c", RoutingPolicy::p2c},
     {"round_robin", RoutingPolicy::round_robin}}};

void read_balancer(TableReader& r, BalancerConfig& b) {
  r.choice("policy", b.routing.policy, kPolicies);
  r.integer("max_pending", b.routing.max_pending, 1, 10'000'000);
  r.integer("failure_threshold", b.routing.failure_threshold, 1, 1000);
  r.integer("unhealthy_threshold", b.routing.unhealthy_threshold, 1, 1000);
  r.integer("healthy_threshold", b.routing.healthy_threshold, 1, 1000);
  r.duration("base_ejection", b.routing.base_ejection_ns, false);
  r.duration("max_ejection", b.routing.max_ejection_ns, false);
  r.duration("health_interval", b.health_interval_ns, false);
  r.duration("health_timeout", b.health_timeout_ns, false);
  r.string("listen_host", b.listen_host);
  r.string("endpoint", b.endpoint);
  if (auto n = r.raw().get("endpoint"); n && !b.endpoint.empty() && !valid_endpoint(b.endpoint))
    r.error(*n, "endpoint", "a \"host:port\" string");
  r.string("ws_endpoint", b.ws_endpoint);
  if (auto n = r.raw().get("ws_endpoint"); n && !b.ws_endpoint.empty() && !valid_endpoint(b.ws_endpoint))
    r.error(*n, "ws_endpoint", "a \"host:port\" string");
  if (b.routing.max_ejection_ns < b.routing.base_ejection_ns) {
    if (auto n = r.raw().get("max_ejection"))
      r.error(*n, "max_ejection", fmt::format("a duration >= balancer.base_ejection ({})",
                                              format_duration(b.routing.base_ejection_ns)));
  }
  r.reject_unknown_keys();
}

constexpr std::array<std::pair<std::string_view, FaultAction>, 8> kFaultActions{
    {{"kill_worker", FaultAction::kill_worker},
     {"restart_worker", FaultAction::restart_worker},
     {"slow_worker", FaultAction::slow_worker},
     {"pause_worker", FaultAction::pause_worker},
     {"resume_worker", FaultAction::resume_worker},
     {"drop_connections", FaultAction::drop_connections},
     {"pause_consumers", FaultAction::pause_consumers},
     {"resume_consumers", FaultAction::resume_consumers}}};

void read_broker(TableReader& r, BrokerConfig& b) {
  if (auto n = r.node("kind")) {
    r.string("kind", b.kind);
    if (b.kind != "embedded" && b.kind != "rabbitmq" && b.kind != "nats")
      r.error(*n, "kind", "one of embedded, rabbitmq, nats");
  }
  if (auto n = r.node("url")) {
    r.string("url", b.url);
    const bool ok = b.url == "auto" || (b.kind == "embedded" && b.url.rfind("tcp://", 0) == 0) ||
                    (b.kind == "rabbitmq" && b.url.rfind("amqp://", 0) == 0) || (b.kind == "nats" && b.url.rfind("nats://", 0) == 0);
    if (!ok) r.error(*n, "url", fmt::format("\"auto\" or a {} URL", b.kind == "embedded" ? "tcp://host:port"
                                                                  : b.kind == "rabbitmq" ? "amqp://user:pass@host:port/vhost"
                                                                                         : "nats://host:port"));
  }
  r.string("request_queue", b.request_queue);
  if (auto n = r.raw().get("request_queue"); n && (b.request_queue.empty() || b.request_queue.size() > 200))
    r.error(*n, "request_queue", "a queue name of 1..200 characters");
  r.integer("max_pending", b.max_pending, 1, 10'000'000);
  r.integer("prefetch", b.prefetch, 1, 65535);
  r.integer("consumers", b.consumers, 0, 256);
  r.boolean("direct_reply_to", b.direct_reply_to);
  r.duration("heartbeat", b.heartbeat_ns, true);
  r.reject_unknown_keys();
}

void read_fault(const toml::table& table, std::size_t index, Reporter& reporter, FaultSpec& fault) {
  TableReader r(table, fmt::format("fault[{}]", index), reporter);
  fault.line = static_cast<int>(table.source().begin.line);
  fault.column = static_cast<int>(table.source().begin.column);
  for (const char* required : {"at", "action"})
    if (!table.get(required)) reporter.error(table.source(), fmt::format("fault[{}]: missing key '{}'", index, required));
  r.duration("at", fault.at_ns, true);
  r.choice("action", fault.action, kFaultActions);
  r.integer("target", fault.target, 0, 63);
  r.duration("delay", fault.delay_ns, true);
  if (fault.action == FaultAction::slow_worker && !table.get("delay"))
    reporter.error(table.source(), fmt::format("fault[{}]: slow_worker needs 'delay' (e.g. \"20ms\"; \"0s\" undoes it)", index));
  r.reject_unknown_keys();
}

void read_knee(TableReader& r, KneeConfig& k) {
  k.enabled = true;
  r.duration("slo_p99", k.slo_p99_ns, false);
  r.number("max_error_ratio", k.max_error_ratio, 0, 1, false);
  r.number("low_rate_per_s", k.low_rate_per_s, 0, kMaxRate, true);
  r.number("high_rate_per_s", k.high_rate_per_s, 0, kMaxRate, true);
  r.number("resolution", k.resolution, 0.001, 1, true);
  r.duration("probe_duration", k.probe_duration_ns, false);
  r.duration("probe_warmup", k.probe_warmup_ns, true);
  if (k.high_rate_per_s <= k.low_rate_per_s) {
    if (auto n = r.raw().get("high_rate_per_s"))
      r.error(*n, "high_rate_per_s", fmt::format("a rate above knee.low_rate_per_s ({})", k.low_rate_per_s));
    else
      r.reporter().error(r.raw().source(), fmt::format("knee: high_rate_per_s ({}) must be above low_rate_per_s ({})",
                                                       k.high_rate_per_s, k.low_rate_per_s));
  }
  r.reject_unknown_keys();
}

void read_path(const toml::table& table, std::size_t index, Reporter& reporter, const BrokerConfig& broker,
               PathKinds kinds, PathSpec& spec) {
  TableReader r(table, fmt::format("path[{}]", index), reporter);
  spec.line = static_cast<int>(table.source().begin.line);
  spec.column = static_cast<int>(table.source().begin.column);
  auto kind_node = r.node("kind");
  std::vector<std::string_view> kind_names;
  for (auto& k : kinds) kind_names.push_back(k.kind);
  if (!kind_node)
    reporter.error(table.source(), fmt::format("path[{}]: missing key 'kind' (one of: {})", index, fmt::join(kind_names, ", ")));
  r.string("kind", spec.kind);
  r.string("label", spec.label);
  r.string("via", spec.via);
  r.integer("connections", spec.connections, 1, 4096);
  r.integer("streams", spec.streams, 1, 1024);
  r.integer("message_bytes", spec.message_bytes, 16, 1 << 20);
  r.reject_unknown_keys();

  if (kind_node && kind_node->is_string()) {
    auto info = std::find_if(kinds.begin(), kinds.end(), [&](const PathKind& k) { return k.kind == spec.kind; });
    if (info == kinds.end()) {
      r.error(*kind_node, "kind", fmt::format("one of {}", fmt::join(kind_names, ", ")));
      return;
    }
    if (spec.via.empty()) {
      // A queue path goes through the scenario's broker unless it names another.
      spec.via = spec.kind == "queue" ? broker.kind : std::string(info->vias.front());
    } else if (std::find(info->vias.begin(), info->vias.end(), spec.via) == info->vias.end()) {
      r.error(*r.raw().get("via"), "via", fmt::format("one of {} for path kind '{}'", fmt::join(info->vias, ", "), spec.kind));
    }
    if (spec.label.empty()) spec.label = r.raw().get("via") ? spec.kind + "_" + spec.via : spec.kind;
  }
}

Scenario read_scenario(const toml::table& root, Reporter& reporter, PathKinds kinds) {
  Scenario s;
  s.file = reporter.file();
  TableReader r(root, "", reporter);
  r.string("name", s.name);
  if (auto n = root.get("name")) {
    bool valid = !s.name.empty() && std::all_of(s.name.begin(), s.name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
    if (n->is_string() && !valid) r.error(*n, "name", "a name of letters, digits, '_', '-' or '.'");
  }
  r.string("description", s.description);
  r.integer("seed", s.seed, 0, INT64_MAX);
  if (auto t = r.table("load")) {
    TableReader tr(*t, "load", reporter);
    read_load(tr, s.load);
  }
  if (auto t = r.table("database")) {
    TableReader tr(*t, "database", reporter);
    read_database(tr, s.database);
  }
  if (auto t = r.table("query")) {
    TableReader tr(*t, "query", reporter);
    read_query(tr, s.query);
  }
  if (auto t = r.table("workers")) {
    TableReader tr(*t, "workers", reporter);
    read_workers(tr, s.workers);
  }
  if (auto t = r.table("balancer")) {
    TableReader tr(*t, "balancer", reporter);
    read_balancer(tr, s.balancer);
  }
  s.balancer.routing.seed = s.seed;
  if (auto t = r.table("broker")) {
    TableReader tr(*t, "broker", reporter);
    read_broker(tr, s.broker);
  }
  if (auto t = r.table("knee")) {
    TableReader tr(*t, "knee", reporter);
    read_knee(tr, s.knee);
  }
  if (auto n = r.node("fault")) {
    auto array = n->as_array();
    if (!array || !array->is_array_of_tables()) {
      r.error(*n, "fault", "an array of tables ([[fault]] entries)");
    } else {
      std::size_t index = 0;
      for (auto& element : *array) {
        FaultSpec fault;
        read_fault(*element.as_table(), index++, reporter, fault);
        s.faults.push_back(fault);
      }
    }
  }
  if (auto n = r.node("path")) {
    auto array = n->as_array();
    if (!array || !array->is_array_of_tables()) {
      r.error(*n, "path", "an array of tables ([[path]] entries)");
    } else {
      std::size_t index = 0;
      for (auto& element : *array) {
        PathSpec spec;
        read_path(*element.as_table(), index++, reporter, s.broker, kinds, spec);
        s.paths.push_back(std::move(spec));
      }
    }
  } else {
    reporter.error_no_position("no [[path]] entries: a scenario needs at least one path to run");
  }
  r.reject_unknown_keys();

  // Whole-scenario rules.
  std::set<std::string> labels;
  for (auto& p : s.paths) {
    if (!p.label.empty() && !labels.insert(p.label).second)
      reporter.error(toml::source_region{{static_cast<toml::source_index>(p.line), static_cast<toml::source_index>(p.column)}, {}, {}},
                     fmt::format("path label '{}' is used twice; give one of them a distinct 'label'", p.label));
  }
  for (std::size_t i = 0; i < s.faults.size(); ++i) {
    const FaultSpec& f = s.faults[i];
    toml::source_region where{{static_cast<toml::source_index>(f.line), static_cast<toml::source_index>(f.column)}, {}, {}};
    if (!s.workers.endpoints.empty())
      reporter.error(where, fmt::format("fault[{}]: faults act on spawned workers; this scenario uses workers.endpoints", i));
    else if (f.target >= s.workers.count)
      reporter.error(where, fmt::format("fault[{}].target: expected a worker index in 0..{}, found {}", i,
                                        s.workers.count - 1, f.target));
  }
  if (s.load.mode == LoadMode::closed && s.load.concurrency < s.load.threads) {
    if (auto t = root.get("load"); t && t->as_table() && t->as_table()->get("concurrency"))
      reporter.error(t->as_table()->get("concurrency")->source(),
                     fmt::format("load.concurrency: expected at least load.threads ({}) in closed loop, found {}",
                                 s.load.threads, s.load.concurrency));
    else
      reporter.error_no_position(fmt::format("load.concurrency ({}) must be at least load.threads ({}) in closed loop",
                                             s.load.concurrency, s.load.threads));
  }
  return s;
}

}  // namespace

Scenario load_scenario_text(std::string_view toml_text, const std::string& source_name, PathKinds kinds) {
  Reporter reporter(source_name);
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    reporter.error(e.source(), std::string(e.description()));
    reporter.throw_if_any();
  }
  Scenario s = read_scenario(root, reporter, kinds);
  reporter.throw_if_any();
  return s;
}

Scenario load_scenario_file(const std::filesystem::path& file, PathKinds kinds) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ScenarioError({{file.string(), 0, 0, "cannot open the scenario file (does it exist?)"}});
  std::stringstream buffer;
  buffer << in.rdbuf();
  Scenario s = load_scenario_text(buffer.str(), file.string(), kinds);
  s.file = file;
  return s;
}

void apply_overrides(Scenario& scenario, const ScenarioOverrides& o) {
  std::vector<Diagnostic> problems;
  auto bad = [&](std::string message) { problems.push_back({"<command line>", 0, 0, std::move(message)}); };
  if (o.duration) {
    Nanos v = 0;
    if (!parse_duration(*o.duration, v) || v == 0)
      bad(fmt::format("--duration: expected a duration > 0 such as \"30s\", found \"{}\"", *o.duration));
    else
      scenario.load.duration_ns = v;
  }
  if (o.warmup) {
    Nanos v = 0;
    if (!parse_duration(*o.warmup, v))
      bad(fmt::format("--warmup: expected a duration such as \"2s\" or \"0s\", found \"{}\"", *o.warmup));
    else
      scenario.load.warmup_ns = v;
  }
  if (o.rate_per_s) {
    if (!(*o.rate_per_s > 0 && *o.rate_per_s <= kMaxRate))
      bad(fmt::format("--rate: expected a number > 0 and <= {}, found {}", kMaxRate, *o.rate_per_s));
    else
      scenario.load.rate_per_s = *o.rate_per_s;
  }
  if (o.threads) {
    if (*o.threads < 1 || *o.threads > kMaxThreads)
      bad(fmt::format("--threads: expected an integer in 1..{}, found {}", kMaxThreads, *o.threads));
    else
      scenario.load.threads = *o.threads;
  }
  if (o.concurrency) {
    if (*o.concurrency < 1 || *o.concurrency > kMaxConcurrency)
      bad(fmt::format("--concurrency: expected an integer in 1..{}, found {}", kMaxConcurrency, *o.concurrency));
    else
      scenario.load.concurrency = *o.concurrency;
  }
  if (problems.empty() && scenario.load.mode == LoadMode::closed && scenario.load.concurrency < scenario.load.threads)
    bad(fmt::format("closed loop needs concurrency ({}) >= threads ({})", scenario.load.concurrency, scenario.load.threads));
  if (!problems.empty()) throw ScenarioError(std::move(problems));
}

namespace {

toml::table to_table(const Scenario& s) {
  toml::array load_phases;
  for (auto& p : s.load.phases) {
    toml::table t{{"name", p.name}, {"duration", format_duration(p.duration_ns)}};
    if (p.rate_per_s > 0) t.insert("rate_per_s", p.rate_per_s);
    if (p.ramp_to_per_s > 0) t.insert("ramp_to_per_s", p.ramp_to_per_s);
    load_phases.push_back(std::move(t));
  }
  toml::table load{{"mode", std::string(to_string(s.load.mode))},
                   {"arrival", std::string(to_string(s.load.arrival))},
                   {"rate_per_s", s.load.rate_per_s},
                   {"concurrency", s.load.concurrency},
                   {"threads", s.load.threads},
                   {"duration", format_duration(s.load.duration_ns)},
                   {"warmup", format_duration(s.load.warmup_ns)},
                   {"deadline", format_duration(s.load.deadline_ns)}};
  if (!load_phases.empty()) {
    load.erase("duration");
    load.insert("phase", std::move(load_phases));
  }
  toml::table database{{"path", s.database.path.string()}, {"sales", s.database.sales}};
  toml::table mix{{"echo", s.query.echo_weight}, {"point", s.query.point_weight}, {"heavy", s.query.heavy_weight}};
  toml::table query{{"mix", mix},
                    {"heavy_range_days", s.query.heavy_range_days},
                    {"heavy_window_minutes", s.query.heavy_window_minutes}};
  toml::array endpoints, ws_endpoints;
  for (auto& e : s.workers.endpoints) endpoints.push_back(e);
  for (auto& e : s.workers.ws_endpoints) ws_endpoints.push_back(e);
  toml::table workers{{"count", s.workers.count},
                      {"threads", s.workers.threads},
                      {"max_queue", s.workers.max_queue},
                      {"listen_host", s.workers.listen_host},
                      {"endpoints", endpoints},
                      {"ws_endpoints", ws_endpoints}};
  const BalancerPolicyConfig& r = s.balancer.routing;
  toml::table balancer{{"policy", std::string(to_string(r.policy))},
                       {"max_pending", r.max_pending},
                       {"failure_threshold", r.failure_threshold},
                       {"unhealthy_threshold", r.unhealthy_threshold},
                       {"healthy_threshold", r.healthy_threshold},
                       {"base_ejection", format_duration(r.base_ejection_ns)},
                       {"max_ejection", format_duration(r.max_ejection_ns)},
                       {"health_interval", format_duration(s.balancer.health_interval_ns)},
                       {"health_timeout", format_duration(s.balancer.health_timeout_ns)},
                       {"listen_host", s.balancer.listen_host},
                       {"endpoint", s.balancer.endpoint},
                       {"ws_endpoint", s.balancer.ws_endpoint}};
  const BrokerConfig& bk = s.broker;
  toml::table broker{{"kind", bk.kind},
                     {"url", bk.url},
                     {"request_queue", bk.request_queue},
                     {"max_pending", bk.max_pending},
                     {"prefetch", bk.prefetch},
                     {"consumers", bk.consumers},
                     {"direct_reply_to", bk.direct_reply_to},
                     {"heartbeat", format_duration(bk.heartbeat_ns)}};
  toml::array faults;
  for (auto& f : s.faults)
    faults.push_back(toml::table{{"at", format_duration(f.at_ns)},
                                 {"action", std::string(to_string(f.action))},
                                 {"target", f.target},
                                 {"delay", format_duration(f.delay_ns)}});
  toml::array paths;
  auto with_faults = [&faults, &s](toml::table t) {
    if (!faults.empty()) t.insert("fault", faults);
    if (s.knee.enabled)
      t.insert("knee", toml::table{{"slo_p99", format_duration(s.knee.slo_p99_ns)},
                                   {"max_error_ratio", s.knee.max_error_ratio},
                                   {"low_rate_per_s", s.knee.low_rate_per_s},
                                   {"high_rate_per_s", s.knee.high_rate_per_s},
                                   {"resolution", s.knee.resolution},
                                   {"probe_duration", format_duration(s.knee.probe_duration_ns)},
                                   {"probe_warmup", format_duration(s.knee.probe_warmup_ns)}});
    return t;
  };
  for (auto& p : s.paths) {
    paths.push_back(toml::table{{"kind", p.kind},
                                {"label", p.label},
                                {"via", p.via},
                                {"connections", p.connections},
                                {"streams", p.streams},
                                {"message_bytes", p.message_bytes}});
  }
  return with_faults(toml::table{{"name", s.name},
                     {"description", s.description},
                     {"seed", static_cast<std::int64_t>(s.seed)},
                     {"load", load},
                     {"database", database},
                     {"query", query},
                     {"workers", workers},
                     {"balancer", balancer},
                     {"broker", broker},
                     {"path", paths}});
}

}  // namespace

std::string scenario_to_toml(const Scenario& scenario) {
  std::ostringstream out;
  out << to_table(scenario);
  return out.str();
}

std::string scenario_to_json(const Scenario& scenario) {
  std::ostringstream out;
  out << toml::json_formatter{to_table(scenario)};
  return out.str();
}

}  // namespace pathbench
