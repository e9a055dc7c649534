// Known-answer tests for scenario parsing: defaults, every kind of mistake with its position.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <toml++/toml.h>

#include "paths/registry.h"
#include "scenario/loader.h"

using namespace pathbench;

namespace {

// Every diagnostic, one a line, for a scenario that must fail.
std::string all_errors(const std::string& text) {
  try {
    load_scenario_text(text, "s.toml");
  } catch (const ScenarioError& e) {
    REQUIRE(!e.diagnostics().empty());
    return e.what();
  }
  FAIL("scenario was accepted: " << text);
  return "";
}

const char* kMinimal = "[[path]]\nkind = \"tcp_echo\"\n";

}  // namespace

TEST_CASE("scenario: a minimal file gets every documented default") {
  Scenario s = load_scenario_text(kMinimal, "s.toml");
  CHECK(s.name == "scenario");
  CHECK(s.seed == 42);
  CHECK(s.load.mode == LoadMode::open);
  CHECK(s.load.arrival == Arrival::constant);
  CHECK(s.load.rate_per_s == 1000.0);
  CHECK(s.load.concurrency == 64);
  CHECK(s.load.threads == 1);
  CHECK(s.load.duration_ns == 10 * kNanosPerSecond);
  CHECK(s.load.warmup_ns == 2 * kNanosPerSecond);
  CHECK(s.load.deadline_ns == 2 * kNanosPerSecond);
  CHECK(s.database.path == "data/sales.db");
  CHECK(s.database.sales == 100000);
  CHECK(s.query.heavy_weight == 1.0);
  REQUIRE(s.paths.size() == 1);
  CHECK(s.paths[0].kind == "tcp_echo");
  CHECK(s.paths[0].label == "tcp_echo");
  CHECK(s.paths[0].via == "direct");
  CHECK(s.paths[0].connections == 1);
  CHECK(s.paths[0].message_bytes == 64);
}

TEST_CASE("scenario: every field is read") {
  Scenario s = load_scenario_text(R"(
name = "full-1"
description = "all keys"
seed = 7
[load]
mode = "closed"
arrival = "poisson"
rate_per_s = 2500.5
concurrency = 8
threads = 2
duration = "1.5s"
warmup = "0s"
deadline = "250ms"
[database]
path = "x/y.db"
sales = 5000
[query]
mix = { heavy = 3, point = 1 }
heavy_range_days = 7
heavy_window_minutes = 60
[[path]]
kind = "tcp_echo"
label = "floor"
via = "direct"
connections = 3
message_bytes = 128
)",
                                  "s.toml");
  CHECK(s.name == "full-1");
  CHECK(s.description == "all keys");
  CHECK(s.seed == 7);
  CHECK(s.load.mode == LoadMode::closed);
  CHECK(s.load.arrival == Arrival::poisson);
  CHECK(s.load.rate_per_s == doctest::Approx(2500.5));
  CHECK(s.load.concurrency == 8);
  CHECK(s.load.threads == 2);
  CHECK(s.load.duration_ns == 1'500'000'000);
  CHECK(s.load.warmup_ns == 0);
  CHECK(s.load.deadline_ns == 250'000'000);
  CHECK(s.database.path == "x/y.db");
  CHECK(s.database.sales == 5000);
  CHECK(s.query.heavy_weight == 3.0);
  CHECK(s.query.point_weight == 1.0);
  CHECK(s.query.echo_weight == 0.0);  // a mix leaves out what it does not name
  CHECK(s.query.heavy_range_days == 7);
  CHECK(s.query.heavy_window_minutes == 60);
  CHECK(s.paths[0].label == "floor");
  CHECK(s.paths[0].connections == 3);
  CHECK(s.paths[0].message_bytes == 128);
}

TEST_CASE("scenario: mistakes are reported with file:line:col, key path, expected and found") {
  struct Case {
    const char* text;
    const char* pattern;  // regex over the diagnostics, one a line
  };
  const Case cases[] = {
      // syntax error
      {"[load\nrate_per_s = 5\n", R"(^s\.toml:1:\d+: .+)"},
      // duplicate key (a TOML error)
      {"seed = 1\nseed = 2\n[[path]]\nkind=\"tcp_echo\"\n", R"(^s\.toml:2:\d+: .*seed.*)"},
      // unknown key, with a suggestion
      {"[load]\nrate_per_sec = 5\n[[path]]\nkind=\"tcp_echo\"\n",
       R"(^s\.toml:2:1: unknown key 'load\.rate_per_sec' \(did you mean 'rate_per_s'\?\))"},
      // unknown top-level table
      {"[lode]\n[[path]]\nkind=\"tcp_echo\"\n", R"(^s\.toml:1:\d+: unknown key 'lode' \(did you mean 'load'\?\))"},
      // wrong type
      {"[load]\nrate_per_s = \"fast\"\n[[path]]\nkind=\"tcp_echo\"\n",
       R"(^s\.toml:2:\d+: load\.rate_per_s: expected a number > 0.*, found "fast")"},
      // impossible values
      {"[load]\nrate_per_s = 0\n[[path]]\nkind=\"tcp_echo\"\n",
       R"(^s\.toml:2:\d+: load\.rate_per_s: expected a number > 0.*, found 0)"},
      {"[load]\nrate_per_s = -5\n[[path]]\nkind=\"tcp_echo\"\n", R"(load\.rate_per_s: .*found -5)"},
      {"[load]\nduration = \"0s\"\n[[path]]\nkind=\"tcp_echo\"\n",
       R"(^s\.toml:2:\d+: load\.duration: expected a duration > 0.*found "0s")"},
      {"[load]\nduration = 30\n[[path]]\nkind=\"tcp_echo\"\n", R"(load\.duration: expected a duration.*found 30)"},
      {"[load]\nduration = \"30 seconds\"\n[[path]]\nkind=\"tcp_echo\"\n", R"(load\.duration: .*found "30 seconds")"},
      {"[load]\nthreads = 0\n[[path]]\nkind=\"tcp_echo\"\n", R"(load\.threads: expected an integer in 1\.\.256, found 0)"},
      {"[load]\nmode = \"sideways\"\n[[path]]\nkind=\"tcp_echo\"\n",
       R"(load\.mode: expected one of "open", "closed", found "sideways")"},
      // the broker table
      {"[broker]\nkind = \"kafka\"\n[[path]]\nkind=\"queue\"\n",
       R"(^s\.toml:2:\d+: broker\.kind: expected one of embedded, rabbitmq, nats, found "kafka")"},
      {"[broker]\nkind = \"rabbitmq\"\nurl = \"nats://127.0.0.1:4222\"\n[[path]]\nkind=\"queue\"\n",
       R"(^s\.toml:3:\d+: broker\.url: expected "auto" or a amqp://user:pass@host:port/vhost URL, found "nats://127\.0\.0\.1:4222")"},
      {"[broker]\nprefetch = 0\n[[path]]\nkind=\"queue\"\n", R"(broker\.prefetch: expected an integer in 1\.\.65535, found 0)"},
      {"[broker]\ndirect_reply_to = \"yes\"\n[[path]]\nkind=\"queue\"\n", R"(broker\.direct_reply_to: expected true or false, found "yes")"},
      {"[broker]\nmax_pendin = 5\n[[path]]\nkind=\"queue\"\n", R"(unknown key 'broker\.max_pendin' \(did you mean 'max_pending'\?\))"},
      {"[[path]]\nkind=\"queue\"\nvia = \"kafka\"\n", R"(path\[0\]\.via: expected one of embedded, rabbitmq, nats for path kind 'queue')"},
      {"[workers]\nendpoints = [\"127.0.0.1:5\"]\nws_endpoints = [\"127.0.0.1:6\", \"127.0.0.1:7\"]\n[[path]]\nkind=\"websocket\"\n",
       R"(workers\.ws_endpoints: expected one WebSocket address per workers\.endpoints entry \(1\))"},
      {"[load]\nmode = \"closed\"\nthreads = 4\nconcurrency = 2\n[[path]]\nkind=\"tcp_echo\"\n",
       R"(^s\.toml:4:\d+: load\.concurrency: expected at least load\.threads \(4\))"},
      // paths
      {"seed = 1\n", R"(no \[\[path\]\] entries)"},
      {"[[path]]\nkind = \"carrier_pigeon\"\n", R"(^s\.toml:2:\d+: path\[0\]\.kind: expected one of tcp_echo.*found "carrier_pigeon")"},
      {"[[path]]\nkind = \"tcp_echo\"\nvia = \"balancer\"\n", R"(^s\.toml:3:\d+: path\[0\]\.via: expected one of direct)"},
      {"[[path]]\nlabel = \"x\"\n", R"(^s\.toml:1:\d+: path\[0\]: missing key 'kind')"},
      {"[[path]]\nkind = \"tcp_echo\"\n[[path]]\nkind = \"tcp_echo\"\n", R"(^s\.toml:3:\d+: path label 'tcp_echo' is used twice)"},
      {"[[path]]\nkind = \"tcp_echo\"\nmessage_bytes = 8\n", R"(path\[0\]\.message_bytes: expected an integer in 16\.\.)"},
      {"path = 3\n", R"(path: expected an array of tables)"},
      // query
      {"[query]\nmix = { heavy = 0 }\n[[path]]\nkind=\"tcp_echo\"\n", R"(query\.mix: expected at least one weight > 0)"},
      {"[query]\nmix = { hefty = 1 }\n[[path]]\nkind=\"tcp_echo\"\n", R"(unknown key 'query\.mix\.hefty' \(did you mean 'heavy'\?\))"},
      {"[database]\nsales = 0\n[[path]]\nkind=\"tcp_echo\"\n", R"(database\.sales: expected an integer in 1\.\.100000000, found 0)"},
      {"name = \"has space\"\n[[path]]\nkind=\"tcp_echo\"\n", R"(name: expected a name of letters)"},
  };
  for (auto& c : cases) {
    CAPTURE(c.text);
    std::string error = all_errors(c.text);
    CAPTURE(error);
    CHECK(std::regex_search(error, std::regex(c.pattern, std::regex::ECMAScript | std::regex::multiline)));
  }
}

TEST_CASE("scenario: all problems in a file are reported, in file order") {
  try {
    load_scenario_text("[load]\nthreads = 0\nrate_per_s = -1\nbogus = 1\n[[path]]\nkind=\"nope\"\n", "s.toml");
    FAIL("accepted");
  } catch (const ScenarioError& e) {
    REQUIRE(e.diagnostics().size() == 4);
    CHECK(e.diagnostics()[0].line == 2);
    CHECK(e.diagnostics()[1].line == 3);
    CHECK(e.diagnostics()[2].line == 4);
    CHECK(e.diagnostics()[3].line == 6);
  }
}

TEST_CASE("scenario: a missing file is an error naming it") {
  CHECK_THROWS_WITH_AS(load_scenario_file("/nonexistent/dir/x.toml"),
                       doctest::Contains("/nonexistent/dir/x.toml"), ScenarioError);
}

TEST_CASE("scenario: durations parse and print back exactly") {
  Nanos v = 0;
  CHECK((parse_duration("30s", v) && v == 30 * kNanosPerSecond));
  CHECK((parse_duration("250ms", v) && v == 250 * kNanosPerMilli));
  CHECK((parse_duration("1.5s", v) && v == 1'500'000'000));
  CHECK((parse_duration("100us", v) && v == 100'000));
  CHECK((parse_duration("500ns", v) && v == 500));
  CHECK((parse_duration("2m", v) && v == 120 * kNanosPerSecond));
  CHECK((parse_duration("1h", v) && v == 3600 * kNanosPerSecond));
  CHECK((parse_duration("0s", v) && v == 0));
  for (const char* bad : {"", "s", "30", "-1s", "1 s", "1sec", "1.2.3s", "ms", "9999h"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_duration(bad, v));
  }
  for (Nanos ns : std::vector<Nanos>{0, 1, 1500, 250 * kNanosPerMilli, 1'500'000'000, 90 * kNanosPerSecond,
                                      7200 * kNanosPerSecond}) {
    Nanos back = -1;
    CHECK(parse_duration(format_duration(ns), back));
    CHECK(back == ns);
  }
}

TEST_CASE("scenario: command-line overrides are validated like the file") {
  Scenario s = load_scenario_text(kMinimal, "s.toml");
  ScenarioOverrides o;
  o.duration = "3s";
  o.rate_per_s = 123.0;
  apply_overrides(s, o);
  CHECK(s.load.duration_ns == 3 * kNanosPerSecond);
  CHECK(s.load.rate_per_s == 123.0);
  ScenarioOverrides bad;
  bad.duration = "soon";
  bad.rate_per_s = -1;
  try {
    apply_overrides(s, bad);
    FAIL("accepted");
  } catch (const ScenarioError& e) {
    CHECK(e.diagnostics().size() == 2);
    CHECK(std::string(e.what()).find("--duration") != std::string::npos);
    CHECK(std::string(e.what()).find("--rate") != std::string::npos);
  }
}

TEST_CASE("scenario: the scenario as run reads back to the same values") {
  Scenario s = load_scenario_text(
      "seed = 9\n[load]\nrate_per_s = 77\nduration = \"1500ms\"\n[query]\nmix = { echo = 1 }\n[[path]]\nkind = "
      "\"tcp_echo\"\nconnections = 4\n",
      "s.toml");
  Scenario back = load_scenario_text(scenario_to_toml(s), "back.toml");
  CHECK(back.seed == 9);
  CHECK(back.load.rate_per_s == 77);
  CHECK(back.load.duration_ns == 1'500'000'000);
  CHECK(back.query.echo_weight == 1);
  CHECK(back.query.heavy_weight == 0);
  CHECK(back.paths[0].connections == 4);
  CHECK(scenario_to_json(s).find("\"rate_per_s\"") != std::string::npos);
  Scenario q = load_scenario_text(
      "[broker]\nkind = \"nats\"\nurl = \"nats://10.0.0.1:4222\"\nprefetch = 8\ndirect_reply_to = true\n"
      "[[path]]\nkind = \"queue\"\n",
      "q.toml");
  CHECK(q.paths[0].via == "nats");  // a queue path goes through [broker] kind unless it says otherwise
  Scenario qb = load_scenario_text(scenario_to_toml(q), "qb.toml");
  CHECK(qb.broker.kind == "nats");
  CHECK(qb.broker.url == "nats://10.0.0.1:4222");
  CHECK(qb.broker.prefetch == 8);
  CHECK(qb.broker.direct_reply_to);
}

TEST_CASE("scenario: every shipped scenario validates") {
  std::filesystem::path dir = std::filesystem::path(PATHBENCH_SOURCE_DIR) / "scenarios";
  int files = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".toml") continue;
    CAPTURE(entry.path().string());
    CHECK_NOTHROW(load_scenario_file(entry.path()));
    ++files;
  }
  CHECK(files >= 1);
}

TEST_CASE("scenario: every registered path kind is accepted with each of its routes") {
  for (auto& info : path_registry()) {  // every route of every kind
    const std::string_view via = info.via;
    std::string text = fmt::format("[[path]]\nkind = \"{}\"\nvia = \"{}\"\n", info.kind, via);
    CAPTURE(text);
    Scenario s = load_scenario_text(text, "s.toml");
    CHECK(s.paths[0].via == via);
  }
}

TEST_CASE("scenario: load phases (steps and ramps) are read and checked") {
  Scenario s = load_scenario_text(R"(
[load]
rate_per_s = 100
[[load.phase]]
name = "steady"
duration = "5s"
[[load.phase]]
duration = "10s"
rate_per_s = 100
ramp_to_per_s = 1000
[[path]]
kind = "tcp_echo"
)",
                                  "s.toml");
  REQUIRE(s.load.phases.size() == 2);
  CHECK(s.load.phases[0].name == "steady");
  CHECK(s.load.phases[0].duration_ns == 5 * kNanosPerSecond);
  CHECK(s.load.phases[1].name == "phase2");
  CHECK(s.load.phases[1].ramp_to_per_s == 1000);
  Scenario back = load_scenario_text(scenario_to_toml(s), "back.toml");
  CHECK(back.load.phases.size() == 2);
  CHECK(back.load.phases[1].ramp_to_per_s == 1000);

  auto errors = [](const char* text) {
    try {
      load_scenario_text(text, "s.toml");
    } catch (const ScenarioError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(errors("[load]\nduration = \"5s\"\n[[load.phase]]\nduration = \"1s\"\n[[path]]\nkind=\"tcp_echo\"\n")
            .find("s.toml:2:12: load.duration: cannot be used with [[load.phase]]") != std::string::npos);
  CHECK(errors("[[load.phase]]\nrate_per_s = 5\n[[path]]\nkind=\"tcp_echo\"\n").find("load.phase[0]: missing key 'duration'") !=
        std::string::npos);
  CHECK(errors("[[load.phase]]\nname = \"warmup\"\nduration = \"1s\"\n[[path]]\nkind=\"tcp_echo\"\n")
            .find("load.phase[0].name: expected a name other than") != std::string::npos);
  CHECK(errors("[[load.phase]]\nduration = \"1s\"\nramp_to_per_s = -1\n[[path]]\nkind=\"tcp_echo\"\n")
            .find("load.phase[0].ramp_to_per_s: expected a number > 0") != std::string::npos);
  CHECK(errors("[[load.phase]]\nduration = \"1s\"\nrate = 3\n[[path]]\nkind=\"tcp_echo\"\n")
            .find("unknown key 'load.phase[0].rate'") != std::string::npos);
}

namespace {

// Every key path below `node` ("load.rate_per_s", "path[0].kind", ...), with its value's text.
void key_paths(const nlohmann::json& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (node.is_object()) {
    for (auto& [key, value] : node.items()) key_paths(value, prefix.empty() ? key : prefix + "." + key, out);
  } else if (node.is_array() && !node.empty() && node.front().is_object()) {
    for (std::size_t i = 0; i < node.size(); ++i) key_paths(node[i], fmt::format("{}[{}]", prefix, i), out);
  } else {
    out[prefix] = node.dump();
  }
}

const char* kEveryKey = R"(
name = "every-key"
description = "d"
seed = 11
[load]
mode = "closed"
arrival = "poisson"
rate_per_s = 300.5
concurrency = 9
threads = 3
warmup = "1s"
deadline = "750ms"
[[load.phase]]
name = "flat"
duration = "2s"
[[load.phase]]
duration = "3s"
rate_per_s = 10
ramp_to_per_s = 20.5
[database]
path = "d/x.db"
sales = 77
[query]
mix = { echo = 2, point = 0.5 }
heavy_range_days = 3
heavy_window_minutes = 15
[workers]
count = 3
threads = 4
max_queue = 99
listen_host = "0.0.0.0"
[balancer]
policy = "round_robin"
max_pending = 10
failure_threshold = 7
unhealthy_threshold = 8
healthy_threshold = 9
base_ejection = "2s"
max_ejection = "4s"
health_interval = "3s"
health_timeout = "100ms"
listen_host = "::1"
endpoint = "[::1]:7000"
ws_endpoint = "localhost:7001"
[broker]
kind = "nats"
url = "nats://n:4222"
request_queue = "rq"
max_pending = 5
prefetch = 2
consumers = 1
direct_reply_to = true
heartbeat = "0s"
[knee]
slo_p99 = "20ms"
max_error_ratio = 0.01
low_rate_per_s = 50
high_rate_per_s = 500
resolution = 0.1
probe_duration = "2s"
probe_warmup = "0s"
[[fault]]
at = "1s"
action = "slow_worker"
target = 2
delay = "5ms"
[[path]]
kind = "grpc_stream"
label = "gs"
via = "direct"
connections = 2
streams = 3
message_bytes = 32
)";

}  // namespace

TEST_CASE("scenario: every key is written back, the same in TOML and JSON, and reads back to the same text") {
  Scenario s = load_scenario_text(kEveryKey, "s.toml");
  CHECK(s.balancer.endpoint == "[::1]:7000");  // IPv6 endpoints in brackets (core/host_port)
  CHECK(s.knee.enabled);
  const std::string toml_text = scenario_to_toml(s);
  CHECK(scenario_to_toml(load_scenario_text(toml_text, "back.toml")) == toml_text);

  std::map<std::string, std::string> from_json, from_toml;
  key_paths(nlohmann::json::parse(scenario_to_json(s)), "", from_json);
  std::ostringstream toml_as_json;
  toml_as_json << toml::json_formatter{toml::parse(toml_text)};
  key_paths(nlohmann::json::parse(toml_as_json.str()), "", from_toml);
  CHECK(from_json == from_toml);

  // Every key the file set is written with the value it set (load.duration gives way to phases).
  std::map<std::string, std::string> from_file;
  std::ostringstream file_as_json;
  file_as_json << toml::json_formatter{toml::parse(kEveryKey)};
  key_paths(nlohmann::json::parse(file_as_json.str()), "", from_file);
  for (auto& [key, value] : from_file) {
    CAPTURE(key);
    REQUIRE(from_json.count(key) == 1);
    if (key.find("rate") == std::string::npos && key.find("mix") == std::string::npos &&
        key.find("ratio") == std::string::npos && key.find("resolution") == std::string::npos)
      CHECK(from_json[key] == value);
  }
  CHECK(from_json.count("load.duration") == 0);
  CHECK(from_json["query.mix.heavy"] == "0.0");  // a mix leaves out what it does not name
  CHECK(from_json["path[0].via"] == "\"direct\"");
}

TEST_CASE("scenario: endpoints are host:port as core/host_port parses them") {
  Scenario s = load_scenario_text("[workers]\nendpoints = [\"[::1]:50051\", \"db-1:9\"]\n[[path]]\nkind=\"grpc_unary\"\n",
                                  "s.toml");
  CHECK(s.workers.endpoints == std::vector<std::string>{"[::1]:50051", "db-1:9"});
  for (const char* bad : {"h:0", "h:65536", ":80", "h", "h:8x"}) {
    CAPTURE(bad);
    std::string error = all_errors(fmt::format("[balancer]\nendpoint = \"{}\"\n[[path]]\nkind=\"grpc_unary\"\n", bad));
    CHECK(error.find(fmt::format("s.toml:2:12: balancer.endpoint: expected a \"host:port\" string, found \"{}\"", bad)) !=
          std::string::npos);
  }
}

TEST_CASE("scenario: unknown keys in any table get the nearest known key of that table") {
  CHECK(all_errors("[balancer]\nmax_ejections = \"1s\"\n[[path]]\nkind=\"tcp_echo\"\n")
            .find("s.toml:2:1: unknown key 'balancer.max_ejections' (did you mean 'max_ejection'?)") != std::string::npos);
  CHECK(all_errors("[knee]\nprobe_warmpu = \"1s\"\n[[path]]\nkind=\"tcp_echo\"\n")
            .find("unknown key 'knee.probe_warmpu' (did you mean 'probe_warmup'?)") != std::string::npos);
  CHECK(all_errors("[[fault]]\nat = \"1s\"\naction = \"kill_worker\"\nwhen = 1\n[[path]]\nkind=\"tcp_echo\"\n")
            .find("unknown key 'fault[0].when' (known here: action, at, delay, target)") != std::string::npos);
}

TEST_CASE("scenario: every key the loader knows is documented in docs/scenarios.md") {
  std::ifstream in(std::filesystem::path(PATHBENCH_SOURCE_DIR) / "docs" / "scenarios.md");
  REQUIRE(in);
  const std::string docs{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::map<std::string, std::string> keys;
  key_paths(nlohmann::json::parse(scenario_to_json(load_scenario_text(kEveryKey, "s.toml"))), "", keys);
  for (auto& [path, value] : keys) {
    // The last name of the path: "load.phase[1].ramp_to_per_s" -> "ramp_to_per_s".
    std::string key = path.substr(path.find_last_of('.') == std::string::npos ? 0 : path.find_last_of('.') + 1);
    CAPTURE(path);
    CHECK(std::regex_search(docs, std::regex("\\b" + key + "\\b")));
  }
  CHECK(keys.size() >= 60);
}

TEST_CASE("scenario: names and labels that would leave the results folder are refused") {
  auto e = all_errors("name = \"..\"\n[[path]]\nkind = \"tcp_echo\"\n");
  CHECK(e.find("s.toml:1:") != std::string::npos);
  CHECK(e.find("not \".\" or \"..\"") != std::string::npos);
  auto l = all_errors("[[path]]\nkind = \"tcp_echo\"\nlabel = \"../escaped\"\n");
  CHECK(l.find("s.toml:3:") != std::string::npos);
  CHECK(l.find("label") != std::string::npos);
  CHECK(all_errors("[[path]]\nkind = \"tcp_echo\"\nlabel = \"a/b\"\n").find("label") != std::string::npos);
  CHECK(all_errors("name = \"" + std::string(5000, 'x') + "\"\n[[path]]\nkind = \"tcp_echo\"\n").find("100 characters") !=
        std::string::npos);
  CHECK(load_scenario_text("[[path]]\nkind = \"tcp_echo\"\nlabel = \"echo.v2-a_b\"\n", "s.toml").paths[0].label ==
        "echo.v2-a_b");
}

TEST_CASE("scenario: an open-loop rate that cannot give one request in the run is refused with the reason") {
  auto e = all_errors("[load]\nrate_per_s = 1e-300\n[[path]]\nkind = \"tcp_echo\"\n");
  CHECK(e.find("s.toml:1:1") != std::string::npos);
  CHECK(e.find("at least one is needed") != std::string::npos);
  // 0.5/s over 2 s is one request: fine.
  CHECK_NOTHROW(load_scenario_text("[load]\nrate_per_s = 0.5\nduration = \"2s\"\n[[path]]\nkind = \"tcp_echo\"\n", "s.toml"));
}

TEST_CASE("scenario: a fault that could never happen is refused at its position") {
  const std::string after = "[load]\nduration = \"5s\"\nwarmup = \"1s\"\n[[fault]]\nat = \"8s\"\naction = \"kill_worker\"\n"
                            "[[path]]\nkind = \"grpc_unary\"\n";
  auto e = all_errors(after);
  CHECK(e.find("s.toml:4:1") != std::string::npos);
  CHECK(e.find("not before the end of the run (6s") != std::string::npos);
}

TEST_CASE("scenario: command-line overrides that would change nothing are refused, never ignored") {
  auto refused = [](const std::string& text, ScenarioOverrides o) {
    Scenario s = load_scenario_text(text, "s.toml");
    try {
      apply_overrides(s, o);
    } catch (const ScenarioError& e) {
      return std::string(e.what());
    }
    FAIL("override accepted");
    return std::string();
  };
  const std::string phased = "[[load.phase]]\nname = \"a\"\nduration = \"2s\"\nrate_per_s = 100\n[[path]]\nkind = \"tcp_echo\"\n";
  ScenarioOverrides duration;
  duration.duration = "5s";
  CHECK(refused(phased, duration).find("--duration: the load is shaped by [[load.phase]]") != std::string::npos);
  ScenarioOverrides rate;
  rate.rate_per_s = 50;
  CHECK(refused(phased, rate).find("--rate: every [[load.phase]] sets its own rate_per_s") != std::string::npos);
  CHECK(refused("[knee]\n[[path]]\nkind = \"tcp_echo\"\n", duration).find("probe_duration") != std::string::npos);
  CHECK(refused("[load]\nmode = \"closed\"\n[[path]]\nkind = \"tcp_echo\"\n", rate).find("closed loop") !=
        std::string::npos);
  // A fault that the shortened run would end before.
  ScenarioOverrides shorter;
  shorter.duration = "5s";
  auto f = refused("[load]\nduration = \"20s\"\n[[fault]]\nat = \"8s\"\naction = \"kill_worker\"\n[[path]]\nkind = \"grpc_unary\"\n",
                   shorter);
  CHECK(f.find(":3:1") != std::string::npos);
  CHECK(f.find("with the command-line overrides") != std::string::npos);
}

TEST_CASE("scenario: broker URLs are checked by the parser the backends use, and never written back with a secret") {
  auto tcp = all_errors("[broker]\nurl = \"tcp://:\"\n[[path]]\nkind = \"queue\"\n");
  CHECK(tcp.find("s.toml:2:") != std::string::npos);
  CHECK(all_errors("[broker]\nkind = \"rabbitmq\"\nurl = \"amqp://\"\n[[path]]\nkind = \"queue\"\n").find("no host") !=
        std::string::npos);
  CHECK(all_errors("[broker]\nkind = \"nats\"\nurl = \"amqp://h:1\"\n[[path]]\nkind = \"queue\"\n").find("nats://") !=
        std::string::npos);
  Scenario s = load_scenario_text(
      "[broker]\nkind = \"rabbitmq\"\nurl = \"amqp://bench:SuperSecret42@127.0.0.1:1/\"\n[[path]]\nkind = \"queue\"\n",
      "s.toml");
  CHECK(s.broker.url == "amqp://bench:SuperSecret42@127.0.0.1:1/");  // the run connects with it
  CHECK(scenario_to_json(s).find("SuperSecret42") == std::string::npos);
  CHECK(scenario_to_toml(s).find("SuperSecret42") == std::string::npos);
  CHECK(scenario_to_toml(s).find("amqp://***@127.0.0.1:1") != std::string::npos);
}

TEST_CASE("scenario: [load] spin is off by default, read as a duration, and at most 10ms") {
  CHECK(load_scenario_text(kMinimal, "s.toml").load.spin_ns == 0);
  Scenario s = load_scenario_text(std::string("[load]\nspin = \"50us\"\n") + kMinimal, "s.toml");
  CHECK(s.load.spin_ns == 50'000);
  const std::string e = all_errors(std::string("[load]\nspin = \"20ms\"\n") + kMinimal);
  CHECK(e.find("s.toml:2:") != std::string::npos);
  CHECK(e.find("10ms") != std::string::npos);
}
