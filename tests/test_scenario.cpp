// Known-answer tests for scenario parsing: defaults, every kind of mistake with its position.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <filesystem>
#include <regex>

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
