// The loader's flow: parse with toml++, read the top level through the field tables
// (scenario/schema.cpp), then the arrays of tables and the rules that span the whole scenario.
#include "scenario/loader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "scenario/fields.h"
#include "scenario/schema.h"
#include "scenario/slo.h"

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

using namespace scenario_fields;

void read_fault(const toml::table& table, std::size_t index, Reporter& reporter, FaultSpec& fault) {
  TableReader r(table, fmt::format("fault[{}]", index), reporter);
  fault.line = static_cast<int>(table.source().begin.line);
  fault.column = static_cast<int>(table.source().begin.column);
  for (const char* required : {"at", "action"})
    if (!table.get(required)) reporter.error(table.source(), fmt::format("fault[{}]: missing key '{}'", index, required));
  read_fields(fault_fields(), r, fault);
  if (fault.action == FaultAction::slow_worker && !table.get("delay"))
    reporter.error(table.source(), fmt::format("fault[{}]: slow_worker needs 'delay' (e.g. \"20ms\"; \"0s\" undoes it)", index));
  r.reject_unknown_keys();
}

void read_path(const toml::table& table, std::size_t index, Reporter& reporter, const BrokerConfig& broker,
               PathKinds kinds, PathSpec& spec) {
  TableReader r(table, fmt::format("path[{}]", index), reporter);
  spec.line = static_cast<int>(table.source().begin.line);
  spec.column = static_cast<int>(table.source().begin.column);
  const toml::node* kind_node = table.get("kind");
  std::vector<std::string_view> kind_names;
  for (auto& k : kinds) kind_names.push_back(k.kind);
  if (!kind_node)
    reporter.error(table.source(), fmt::format("path[{}]: missing key 'kind' (one of: {})", index, fmt::join(kind_names, ", ")));
  read_fields(path_fields(), r, spec);
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
      r.error(*table.get("via"), "via", fmt::format("one of {} for path kind '{}'", fmt::join(info->vias, ", "), spec.kind));
    }
    if (spec.label.empty()) spec.label = table.get("via") ? spec.kind + "_" + spec.via : spec.kind;
  }
}

// Rules on the run as planned, checked once the file is read and again after command-line
// overrides (which can move the end of the run under a fault, or cut a rate to nothing).
struct PlanProblem {
  int line = 0, column = 0;  // 0: no position (the [load] table as a whole)
  std::string message;
};

std::vector<PlanProblem> plan_problems(const Scenario& s) {
  std::vector<PlanProblem> problems;
  if (s.load.mode == LoadMode::open && !s.knee.enabled) {
    const double expected = expected_measured_requests(s.load);
    if (!(expected >= 1.0))
      problems.push_back({0, 0, fmt::format("load: the open-loop schedule asks for {:.3g} requests in the measured run "
                                            "(rate_per_s {:.6g}); at least one is needed — raise the rate or the duration",
                                            expected, s.load.rate_per_s)});
  }
  const Nanos end = planned_length_ns(s.load);
  for (std::size_t i = 0; i < s.faults.size(); ++i) {
    const FaultSpec& f = s.faults[i];
    if (!s.knee.enabled && f.at_ns >= end)
      problems.push_back({f.line, f.column, fmt::format("fault[{}].at: {} is not before the end of the run ({} "
                                                        "including the warm-up), so it would never happen",
                                                        i, format_duration(f.at_ns), format_duration(end))});
  }
  return problems;
}

// [agents]: what load agents cannot do. Each agent runs at least one client thread; a path whose
// servers the agents could not reach the way the coordinator's clients do is refused (the
// in-process broker of `broker` paths, the loopback echo server a tcp_echo path spawns), or whose
// accounting lives in consumers the coordinator starts (messaging, the task route through the queue).
void agents_problems(const Scenario& s, const toml::table& root, Reporter& reporter) {
  const std::size_t agents = s.agents.endpoints.size();
  if (agents == 0) return;
  const toml::node* at = root.get("agents");
  auto error = [&](std::string message) {
    if (at) reporter.error(at->source(), std::move(message));
    else reporter.error_no_position(std::move(message));
  };
  if (static_cast<std::size_t>(s.load.threads) < agents)
    error(fmt::format("agents: {} agents need load.threads >= {} (each runs a share of the client threads), found {}",
                      agents, agents, s.load.threads));
  if (s.knee.enabled) error("agents: a knee search ([knee]) cannot run on agents; run it on one machine");
  for (auto& p : s.paths) {
    if (p.kind == "broker")
      reporter.error_at(p.line, p.column,
                        fmt::format("path '{}': broker paths measure the coordinator's in-process broker, which "
                                    "agents cannot reach; run it without [agents]", p.label));
    else if (p.kind == "messaging")
      reporter.error_at(p.line, p.column,
                        fmt::format("path '{}': one-way messaging keeps its accounting in the coordinator's own "
                                    "consumers (published vs consumed), which agents cannot share; run it without "
                                    "[agents]", p.label));
    else if (p.kind == "task" && p.via == "queue")
      reporter.error_at(p.line, p.column,
                        fmt::format("path '{}': the task route through the queue starts its consumers on the "
                                    "coordinator; run it without [agents] (via = \"balancer\" or \"direct\" work "
                                    "with agents)", p.label));
    else if (p.kind == "tcp_echo" && s.echo.endpoint.empty())
      reporter.error_at(p.line, p.column,
                        fmt::format("path '{}': with [agents], tcp_echo needs [echo] endpoint (a running `pathbench "
                                    "serve echo` the agents can reach)", p.label));
  }
}

Scenario read_scenario(const toml::table& root, Reporter& reporter, PathKinds kinds) {
  Scenario s;
  s.file = reporter.file();
  TableReader r(root, "", reporter);
  read_fields(top_level_fields(), r, s);
  s.balancer.routing.seed = s.seed;
  if (auto array = r.array_of_tables("fault", "[[fault]] entries")) {
    std::size_t index = 0;
    for (auto& element : *array) {
      FaultSpec fault;
      read_fault(*element.as_table(), index++, reporter, fault);
      s.faults.push_back(fault);
    }
  }
  if (auto array = r.array_of_tables("path", "[[path]] entries")) {
    std::size_t index = 0;
    for (auto& element : *array) {
      PathSpec spec;
      read_path(*element.as_table(), index++, reporter, s.broker, kinds, spec);
      s.paths.push_back(std::move(spec));
    }
  } else if (!root.get("path")) {
    reporter.error_no_position("no [[path]] entries: a scenario needs at least one path to run");
  }
  read_slo(r, s);
  r.reject_unknown_keys();

  // Whole-scenario rules.
  std::set<std::string> labels;
  for (auto& p : s.paths) {
    if (!p.label.empty() && !labels.insert(p.label).second)
      reporter.error_at(p.line, p.column,
                        fmt::format("path label '{}' is used twice; give one of them a distinct 'label'", p.label));
  }
  for (std::size_t i = 0; i < s.faults.size(); ++i) {
    const FaultSpec& f = s.faults[i];
    if (!s.workers.endpoints.empty())
      reporter.error_at(f.line, f.column, fmt::format("fault[{}]: faults act on spawned workers; this scenario uses workers.endpoints", i));
    else if (f.target >= s.workers.count)
      reporter.error_at(f.line, f.column, fmt::format("fault[{}].target: expected a worker index in 0..{}, found {}", i,
                                                      s.workers.count - 1, f.target));
  }
  if (!reporter.has_errors()) {
    for (auto& p : plan_problems(s)) {
      if (p.line > 0) {
        reporter.error_at(p.line, p.column, p.message);
      } else if (auto t = root.get("load"); t && t->as_table()) {
        reporter.error(t->as_table()->source(), p.message);
      } else {
        reporter.error_no_position(p.message);
      }
    }
  }
  agents_problems(s, root, reporter);
  // A TLS broker URL the run could only fail on at connect: said here, at the URL.
  if (const bool tcps = s.broker.url.rfind("tcps://", 0) == 0, amqps = s.broker.url.rfind("amqps://", 0) == 0;
      (tcps || amqps) && s.tls.for_role("broker").ca.empty()) {
    const std::string message =
        fmt::format("broker.url: {} needs {} ([tls] or [tls.broker]: ca{})", tcps ? "tcps:// (the embedded broker over mutual TLS)" : "amqps://",
                    tcps ? "this end's identity and the CA the broker must chain to" : "the CA the broker must chain to",
                    tcps ? ", cert, key" : "");
    const toml::node* url = root.at_path("broker.url").node();
    if (url) reporter.error(url->source(), message);
    else reporter.error_no_position(message);
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
  // An override that would change nothing is refused: the run must be what the user asked for.
  const LoadConfig& load = scenario.load;
  const bool phased = !load.phases.empty();
  const bool own_rates = phased && std::all_of(load.phases.begin(), load.phases.end(),
                                               [](const LoadPhase& p) { return p.rate_per_s > 0; });
  if (o.duration && scenario.knee.enabled)
    bad(fmt::format("--duration: a knee search runs probes of [knee] probe_duration ({}); --duration would change nothing",
                    format_duration(scenario.knee.probe_duration_ns)));
  else if (o.duration && phased)
    bad("--duration: the load is shaped by [[load.phase]] steps, whose own durations apply; --duration would change nothing");
  if (o.warmup && scenario.knee.enabled)
    bad(fmt::format("--warmup: a knee search warms each probe up for [knee] probe_warmup ({}); --warmup would change nothing",
                    format_duration(scenario.knee.probe_warmup_ns)));
  if (o.rate_per_s && scenario.knee.enabled)
    bad("--rate: a knee search chooses the rate of each probe; --rate would change nothing");
  else if (o.rate_per_s && load.mode == LoadMode::closed)
    bad("--rate: the load is a closed loop (mode = \"closed\"), which has no rate; --rate would change nothing");
  else if (o.rate_per_s && own_rates)
    bad("--rate: every [[load.phase]] sets its own rate_per_s; --rate would change nothing");
  if (!problems.empty()) throw ScenarioError(std::move(problems));
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
  if (problems.empty() && scenario.agents.endpoints.size() > static_cast<std::size_t>(scenario.load.threads))
    bad(fmt::format("{} agents need threads >= {} (each runs a share of the client threads), found {}",
                    scenario.agents.endpoints.size(), scenario.agents.endpoints.size(), scenario.load.threads));
  if (problems.empty()) {
    const std::string file = scenario.file.empty() ? "<command line>" : scenario.file.string();
    for (auto& p : plan_problems(scenario))
      problems.push_back({p.line > 0 ? file : "<command line>", p.line, p.column, p.message + " (with the command-line overrides)"});
  }
  if (!problems.empty()) throw ScenarioError(std::move(problems));
}

}  // namespace pathbench
