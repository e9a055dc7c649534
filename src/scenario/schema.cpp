// Every scenario key, once. Defaults are the member initializers of scenario.h; docs/scenarios.md
// documents the same keys. A table's `after` hook holds the rules that span several keys.
#include "scenario/schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

#include "core/url.h"

namespace pathbench::scenario_fields {

namespace {

using Expected = std::optional<std::string>;

// ---- [load] and its [[load.phase]] steps -----------------------------------------------------

constexpr std::array<Choice<LoadMode>, 2> kModes{{{"open", LoadMode::open}, {"closed", LoadMode::closed}}};
constexpr std::array<Choice<Arrival>, 2> kArrivals{{{"constant", Arrival::constant}, {"poisson", Arrival::poisson}}};

const Field<LoadPhase> kPhaseFields[] = {
    text<&LoadPhase::name>("name"),
    duration<&LoadPhase::duration_ns>("duration", false),
    // 0 = the load's rate / no ramp: not something a file can say, so not written either.
    number<&LoadPhase::rate_per_s>("rate_per_s", 0, kMaxRate, true).omitted_when([](const LoadPhase& p) {
      return p.rate_per_s <= 0;
    }),
    number<&LoadPhase::ramp_to_per_s>("ramp_to_per_s", 0, kMaxRate, true).omitted_when([](const LoadPhase& p) {
      return p.ramp_to_per_s <= 0;
    }),
};

void read_phases(TableReader& r, LoadConfig& load) {
  const toml::array* array = r.array_of_tables("phase", "[[load.phase]] entries");
  if (!array) return;
  if (auto d = r.raw().get("duration"))
    r.reporter().error(d->source(), "load.duration: cannot be used with [[load.phase]] (each phase has its own duration)");
  std::set<std::string> names;
  std::size_t index = 0;
  for (auto& element : *array) {
    const toml::table& t = *element.as_table();
    TableReader pr(t, fmt::format("{}[{}]", r.key_path("phase"), index), r.reporter());
    LoadPhase phase;
    phase.name = fmt::format("phase{}", index + 1);
    read_fields<LoadPhase>(kPhaseFields, pr, phase);
    if (auto nn = t.get("name");
        nn && (phase.name.empty() || phase.name == "warmup" || phase.name == "drain" || !names.insert(phase.name).second))
      pr.error(*nn, "name", "a name other than \"warmup\" or \"drain\", unique among the phases");
    if (!t.get("duration")) r.reporter().error(t.source(), fmt::format("{}: missing key 'duration'", pr.prefix()));
    pr.reject_unknown_keys();
    load.phases.push_back(std::move(phase));
    ++index;
  }
}

void write_phases(const LoadConfig& load, nlohmann::json& table) {
  if (load.phases.empty()) return;
  nlohmann::json& phases = table["phase"] = nlohmann::json::array();
  for (const LoadPhase& p : load.phases) {
    phases.push_back(nlohmann::json::object());
    write_fields<LoadPhase>(kPhaseFields, p, phases.back());
  }
}

const Field<LoadConfig> kLoadFields[] = {
    choice<&LoadConfig::mode>("mode", kModes),
    choice<&LoadConfig::arrival>("arrival", kArrivals),
    number<&LoadConfig::rate_per_s>("rate_per_s", 0, kMaxRate, true),
    integer<&LoadConfig::concurrency>("concurrency", 1, kMaxConcurrency),
    integer<&LoadConfig::threads>("threads", 1, kMaxThreads),
    duration<&LoadConfig::duration_ns>("duration", false).omitted_when([](const LoadConfig& l) {
      return !l.phases.empty();  // phases carry their own durations
    }),
    duration<&LoadConfig::warmup_ns>("warmup", true),
    duration<&LoadConfig::deadline_ns>("deadline", false),
    duration<&LoadConfig::spin_ns>("spin", true)
        .checked([](const LoadConfig& l) -> Expected {
          if (l.spin_ns > 10 * kNanosPerMilli) return "a duration up to 10ms";
          return std::nullopt;
        })
        .omitted_when([](const LoadConfig& l) { return l.spin_ns == 0; }),
};
const TableSpec<LoadConfig> kLoadTable{kLoadFields, nullptr, &read_phases, &write_phases};

// ---- [database], [query] ---------------------------------------------------------------------

const Field<DatabaseConfig> kDatabaseFields[] = {
    text<&DatabaseConfig::path>("path").checked([](const DatabaseConfig& d) -> Expected {
      if (d.path.empty()) return "a non-empty file path";
      return std::nullopt;
    }),
    integer<&DatabaseConfig::sales>("sales", 1, 100'000'000),
    text<&DatabaseConfig::kind>("kind").checked([](const DatabaseConfig& d) -> Expected {
      if (d.kind == "sqlite" || d.kind == "postgres") return std::nullopt;
      return "one of sqlite, postgres";
    }),
    text<&DatabaseConfig::url>("url").checked([](const DatabaseConfig& d) -> Expected {
      if (d.url == "auto") return std::nullopt;
      // The parser the database code checks with (core/url.h); libpq's "?options" are left to libpq.
      const std::string_view base = std::string_view(d.url).substr(0, d.url.find('?'));
      std::string why;
      auto url = parse_url(base, default_port_of("postgresql"), &why);
      if (url && (url->scheme == "postgresql" || url->scheme == "postgres")) return std::nullopt;
      if (url || !(base.starts_with("postgresql://") || base.starts_with("postgres://")))
        return "\"auto\" or a postgresql://host:port/database URL (with user:password@ before the host if needed)";
      return fmt::format("\"auto\" or a postgresql://host:port/database URL (with user:password@ before the host if needed) ({})", why);
    }),
    text<&DatabaseConfig::durability>("durability").checked([](const DatabaseConfig& d) -> Expected {
      if (d.durability == "full" || d.durability == "normal" || d.durability == "off") return std::nullopt;
      return "one of full, normal, off";
    }),
};
const TableSpec<DatabaseConfig> kDatabaseTable{kDatabaseFields};

const Field<QueryMixConfig> kMixFields[] = {
    number<&QueryMixConfig::echo_weight>("echo", 0, 1e9, false),
    number<&QueryMixConfig::point_weight>("point", 0, 1e9, false),
    number<&QueryMixConfig::heavy_weight>("heavy", 0, 1e9, false),
};
const TableSpec<QueryMixConfig> kMixTable{
    kMixFields,
    // A mix names the kinds it wants; the ones it leaves out get weight 0.
    [](QueryMixConfig& q) { q.echo_weight = q.point_weight = q.heavy_weight = 0; },
    [](TableReader& r, QueryMixConfig& q) {
      if (q.echo_weight + q.point_weight + q.heavy_weight <= 0)
        r.reporter().error(r.raw().source(), fmt::format("{}: expected at least one weight > 0, found all 0", r.prefix()));
    }};

const Field<QueryMixConfig> kQueryFields[] = {
    nested<QueryMixConfig>("mix", kMixTable),
    integer<&QueryMixConfig::heavy_range_days>("heavy_range_days", 1, 3650),
    integer<&QueryMixConfig::heavy_window_minutes>("heavy_window_minutes", 1, 1440),
};
const TableSpec<QueryMixConfig> kQueryTable{kQueryFields};

// ---- [workers], [balancer] -------------------------------------------------------------------

const Field<WorkersConfig> kWorkersFields[] = {
    integer<&WorkersConfig::count>("count", 1, 64),
    integer<&WorkersConfig::threads>("threads", 1, 64),
    integer<&WorkersConfig::max_queue>("max_queue", 1, 1'000'000),
    text<&WorkersConfig::listen_host>("listen_host"),
    endpoints<&WorkersConfig::endpoints>("endpoints"),
    endpoints<&WorkersConfig::ws_endpoints>("ws_endpoints"),
};
const TableSpec<WorkersConfig> kWorkersTable{kWorkersFields, nullptr, [](TableReader& r, WorkersConfig& w) {
  if (!w.ws_endpoints.empty() && w.ws_endpoints.size() != w.endpoints.size()) {
    if (auto n = r.raw().get("ws_endpoints"))
      r.error(*n, "ws_endpoints", fmt::format("one WebSocket address per workers.endpoints entry ({})", w.endpoints.size()));
  }
}};

const Field<EchoConfig> kEchoFields[] = {
    endpoint<&EchoConfig::endpoint>("endpoint"),
};
const TableSpec<EchoConfig> kEchoTable{kEchoFields};

constexpr std::array<Choice<RoutingPolicy>, 3> kPolicies{{{"least_outstanding", RoutingPolicy::least_outstanding},
                                                          {"p2c", RoutingPolicy::p2c},
                                                          {"round_robin", RoutingPolicy::round_robin}}};

using B = BalancerConfig;
using P = BalancerPolicyConfig;
const Field<BalancerConfig> kBalancerFields[] = {
    choice<&B::routing, &P::policy>("policy", kPolicies),
    integer<&B::routing, &P::max_pending>("max_pending", 1, 10'000'000),
    integer<&B::routing, &P::failure_threshold>("failure_threshold", 1, 1000),
    integer<&B::routing, &P::unhealthy_threshold>("unhealthy_threshold", 1, 1000),
    integer<&B::routing, &P::healthy_threshold>("healthy_threshold", 1, 1000),
    duration<&B::routing, &P::base_ejection_ns>("base_ejection", false),
    duration<&B::routing, &P::max_ejection_ns>("max_ejection", false),
    duration<&B::health_interval_ns>("health_interval", false),
    duration<&B::health_timeout_ns>("health_timeout", false),
    text<&B::listen_host>("listen_host"),
    endpoint<&B::endpoint>("endpoint"),
    endpoint<&B::ws_endpoint>("ws_endpoint"),
};
const TableSpec<BalancerConfig> kBalancerTable{kBalancerFields, nullptr, [](TableReader& r, BalancerConfig& b) {
  if (b.routing.max_ejection_ns < b.routing.base_ejection_ns) {
    if (auto n = r.raw().get("max_ejection"))
      r.error(*n, "max_ejection",
              fmt::format("a duration >= balancer.base_ejection ({})", format_duration(b.routing.base_ejection_ns)));
  }
}};

// ---- [broker], [knee] ------------------------------------------------------------------------

Expected check_broker_url(const BrokerConfig& b) {
  if (b.url == "auto") return std::nullopt;
  const std::string_view scheme = b.kind == "embedded" ? "tcp" : b.kind == "rabbitmq" ? "amqp" : "nats";
  const std::string_view form = b.kind == "embedded"   ? "tcp://host:port (tcps:// over TLS)"
                                : b.kind == "rabbitmq" ? "amqp://user:pass@host:port/vhost"
                                                       : "nats://host:port";
  // The same parser the backends connect with (core/url.h): what passes here, the run can use.
  std::string why;
  auto url = parse_url(b.url, default_port_of(scheme), &why);
  if (url && url->scheme == scheme) return std::nullopt;
  if (url && b.kind == "nats" && url->scheme == "tls") return std::nullopt;  // NATS over TLS ([tls.broker])
  if (url && b.kind == "embedded" && url->scheme == "tcps") return std::nullopt;  // the native protocol over TLS
  if (b.kind == "rabbitmq" && b.url.rfind("amqps://", 0) == 0) {  // AMQPS ([tls.broker]), port 5671 by default
    url = parse_url(b.url, default_port_of("amqps"), &why);
    if (url) return std::nullopt;
  }
  if (url || b.url.rfind(fmt::format("{}://", scheme), 0) != 0) return fmt::format("\"auto\" or a {} URL", form);
  return fmt::format("\"auto\" or a {} URL ({})", form, why);
}

const Field<BrokerConfig> kBrokerFields[] = {
    text<&BrokerConfig::kind>("kind").checked([](const BrokerConfig& b) -> Expected {
      if (b.kind == "embedded" || b.kind == "rabbitmq" || b.kind == "nats") return std::nullopt;
      return "one of embedded, rabbitmq, nats";
    }),
    text<&BrokerConfig::url>("url").checked(&check_broker_url),  // after kind: the URL scheme depends on it
    text<&BrokerConfig::request_queue>("request_queue").checked([](const BrokerConfig& b) -> Expected {
      if (b.request_queue.empty() || b.request_queue.size() > 200) return "a queue name of 1..200 characters";
      return std::nullopt;
    }),
    integer<&BrokerConfig::max_pending>("max_pending", 1, 10'000'000),
    integer<&BrokerConfig::prefetch>("prefetch", 1, 65535),
    integer<&BrokerConfig::consumers>("consumers", 0, 256),
    boolean<&BrokerConfig::direct_reply_to>("direct_reply_to"),
    duration<&BrokerConfig::heartbeat_ns>("heartbeat", true),
};
const TableSpec<BrokerConfig> kBrokerTable{kBrokerFields};

const Field<KneeConfig> kKneeFields[] = {
    duration<&KneeConfig::slo_p99_ns>("slo_p99", false),
    number<&KneeConfig::max_error_ratio>("max_error_ratio", 0, 1, false),
    number<&KneeConfig::low_rate_per_s>("low_rate_per_s", 0, kMaxRate, true),
    number<&KneeConfig::high_rate_per_s>("high_rate_per_s", 0, kMaxRate, true),
    number<&KneeConfig::resolution>("resolution", 0.001, 1, true),
    duration<&KneeConfig::probe_duration_ns>("probe_duration", false),
    duration<&KneeConfig::probe_warmup_ns>("probe_warmup", true),
};
const TableSpec<KneeConfig> kKneeTable{
    kKneeFields,
    [](KneeConfig& k) { k.enabled = true; },  // a [knee] table turns the search on
    [](TableReader& r, KneeConfig& k) {
      if (k.high_rate_per_s > k.low_rate_per_s) return;
      if (auto n = r.raw().get("high_rate_per_s"))
        r.error(*n, "high_rate_per_s", fmt::format("a rate above knee.low_rate_per_s ({})", k.low_rate_per_s));
      else
        r.reporter().error(r.raw().source(), fmt::format("knee: high_rate_per_s ({}) must be above low_rate_per_s ({})",
                                                         k.high_rate_per_s, k.low_rate_per_s));
    }};

// ---- [agents] --------------------------------------------------------------------------------

const Field<AgentsConfig> kAgentsFields[] = {
    endpoints<&AgentsConfig::endpoints>("endpoints"),
};
const TableSpec<AgentsConfig> kAgentsTable{kAgentsFields, nullptr, [](TableReader& r, AgentsConfig& a) {
  std::set<std::string> seen;
  for (auto& e : a.endpoints)
    if (!seen.insert(e).second) {
      if (auto n = r.raw().get("endpoints")) r.error(*n, "endpoints", fmt::format("distinct agents (\"{}\" twice)", e));
      break;
    }
}};
// ---- [task] ---------------------------------------------------------------------------------

const Field<TaskConfig> kTaskMixFields[] = {
    number<&TaskConfig::query_weight>("query", 0, 1e9, false),
    number<&TaskConfig::cpu_weight>("cpu", 0, 1e9, false),
    number<&TaskConfig::write_weight>("write", 0, 1e9, false),
};
const TableSpec<TaskConfig> kTaskMixTable{
    kTaskMixFields,
    // Like [query] mix: the types a mix leaves out get weight 0.
    [](TaskConfig& t) { t.query_weight = t.cpu_weight = t.write_weight = 0; },
    [](TableReader& r, TaskConfig& t) {
      if (t.query_weight + t.cpu_weight + t.write_weight <= 0)
        r.reporter().error(r.raw().source(), fmt::format("{}: expected at least one weight > 0, found all 0", r.prefix()));
    }};

const Field<TaskConfig> kTaskFields[] = {
    nested<TaskConfig>("mix", kTaskMixTable),
    integer<&TaskConfig::cpu_us>("cpu_us", 0, 10'000'000),
    integer<&TaskConfig::write_rows>("write_rows", 1, 100'000),
    integer<&TaskConfig::payload_bytes>("payload_bytes", 0, 1 << 20),
    duration<&TaskConfig::lease_ns>("lease", false),
    duration<&TaskConfig::busy_timeout_ns>("busy_timeout", true),
};
const TableSpec<TaskConfig> kTaskTable{kTaskFields};

// ---- the top level, [[fault]], [[path]] ------------------------------------------------------

const Field<Scenario> kScenarioFields[] = {
    text<&Scenario::name>("name").checked([](const Scenario& s) -> Expected {
      if (is_file_name(s.name)) return std::nullopt;
      return "a name of letters, digits, '_', '-' or '.' (not \".\" or \"..\"), at most 100 characters";
    }),
    text<&Scenario::description>("description"),
    integer<&Scenario::seed>("seed", 0, INT64_MAX),
    table<&Scenario::load>("load", kLoadTable),
    table<&Scenario::database>("database", kDatabaseTable),
    table<&Scenario::query>("query", kQueryTable),
    table<&Scenario::workers>("workers", kWorkersTable),
    table<&Scenario::echo>("echo", kEchoTable),
    table<&Scenario::balancer>("balancer", kBalancerTable),
    table<&Scenario::broker>("broker", kBrokerTable),
    table<&Scenario::knee>("knee", kKneeTable).omitted_when([](const Scenario& s) { return !s.knee.enabled; }),
    table<&Scenario::agents>("agents", kAgentsTable).omitted_when([](const Scenario& s) { return s.agents.endpoints.empty(); }),
    table<&Scenario::task>("task", kTaskTable),
    table<&Scenario::tls>("tls", tls_table()).omitted_when([](const Scenario& s) { return !s.tls.present; }),
};

constexpr std::array<Choice<FaultAction>, 8> kFaultActions{{{"kill_worker", FaultAction::kill_worker},
                                                            {"restart_worker", FaultAction::restart_worker},
                                                            {"slow_worker", FaultAction::slow_worker},
                                                            {"pause_worker", FaultAction::pause_worker},
                                                            {"resume_worker", FaultAction::resume_worker},
                                                            {"drop_connections", FaultAction::drop_connections},
                                                            {"pause_consumers", FaultAction::pause_consumers},
                                                            {"resume_consumers", FaultAction::resume_consumers}}};

const Field<FaultSpec> kFaultFields[] = {
    duration<&FaultSpec::at_ns>("at", true),
    choice<&FaultSpec::action>("action", kFaultActions),
    integer<&FaultSpec::target>("target", 0, 63),
    duration<&FaultSpec::delay_ns>("delay", true),
};

bool not_messaging(const PathSpec& p) { return p.kind != "messaging"; }
Expected check_messaging_key(const PathSpec& p) {
  if (p.kind != "messaging") return "to be left out (durable, max_age and drain apply to kind = \"messaging\" only)";
  return std::nullopt;
}

// Durable messages need a broker that keeps them: RabbitMQ (durable queue, persistent messages)
// or NATS JetStream (file storage). The embedded broker keeps them in memory only.
Expected check_durable(const PathSpec& p) {
  if (auto bad = check_messaging_key(p)) return bad;
  if (p.durable && p.via != "rabbitmq" && p.via != "nats")
    return "false unless via = \"rabbitmq\" or \"nats\" (the embedded broker keeps messages in memory only)";
  return std::nullopt;
}

// Producer and consumer connections: the broker fronts whose publish and consume sides are
// separate connections (docs/broker-fronts.md).
bool not_broker_lanes(const PathSpec& p) { return !(p.kind == "broker" && (p.via == "websocket" || p.via == "http")); }
Expected check_broker_lanes(const PathSpec& p) {
  if (not_broker_lanes(p))
    return "to be left out (producers and consumers apply to kind = \"broker\" with via = \"websocket\" or \"http\" only)";
  return std::nullopt;
}
// GopherMQ's /api/publish/async: the HTTP front only.
bool not_broker_http(const PathSpec& p) { return !(p.kind == "broker" && p.via == "http"); }
Expected check_broker_http(const PathSpec& p) {
  if (not_broker_http(p)) return "to be left out (async applies to kind = \"broker\" with via = \"http\" only)";
  return std::nullopt;
}

const Field<PathSpec> kPathFields[] = {
    text<&PathSpec::kind>("kind"),
    // Labels name result files (<label>.hgrm): they must stay inside the results folder.
    text<&PathSpec::label>("label").checked([](const PathSpec& p) -> Expected {
      if (p.label.empty() || is_file_name(p.label)) return std::nullopt;
      return "a label of letters, digits, '_', '-' or '.' (not \".\" or \"..\"), at most 100 characters";
    }),
    text<&PathSpec::via>("via"),
    integer<&PathSpec::connections>("connections", 1, 4096),
    integer<&PathSpec::streams>("streams", 1, 1024),
    integer<&PathSpec::message_bytes>("message_bytes", 16, 1 << 20),
    // One-way messaging keys: refused on every other kind (after kind and via, which they depend on).
    boolean<&PathSpec::durable>("durable").checked(&check_durable).omitted_when(&not_messaging),
    duration<&PathSpec::max_age_ns>("max_age", true).checked(&check_messaging_key).omitted_when(&not_messaging),
    duration<&PathSpec::drain_ns>("drain", true).checked(&check_messaging_key).omitted_when(&not_messaging),
    integer<&PathSpec::producers>("producers", 1, 64).checked(&check_broker_lanes).omitted_when(&not_broker_lanes),
    integer<&PathSpec::consumers>("consumers", 1, 64).checked(&check_broker_lanes).omitted_when(&not_broker_lanes),
    boolean<&PathSpec::publish_async>("async").checked(&check_broker_http).omitted_when(&not_broker_http),
};

}  // namespace

std::span<const Field<Scenario>> top_level_fields() { return kScenarioFields; }
std::span<const Field<FaultSpec>> fault_fields() { return kFaultFields; }
std::span<const Field<PathSpec>> path_fields() { return kPathFields; }

}  // namespace pathbench::scenario_fields
