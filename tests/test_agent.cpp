// Load agents on loopback: in-process AgentServers and `pathbench agent` processes driven by the
// coordinator (runner/agents.h) — the exact split and merge, per-agent rows, a lost agent, an
// agent whose coordinator goes away, a version mismatch, and the [agents] validation rules.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "measure/schedule.h"
#include "paths/registry.h"
#include "report/writer.h"
#include "roles/echo_server.h"
#include "runner/agent_service.h"
#include "runner/agents.h"
#include "runner/runner.h"
#include "scenario/loader.h"
#include "test_helpers.h"

#include "agent.grpc.pb.h"

using namespace pathbench;
using namespace pathbench::testing;

namespace {

std::string agents_toml(const std::vector<std::string>& agents) {
  std::string list;
  for (auto& a : agents) list += (list.empty() ? "\"" : ", \"") + a + "\"";
  return fmt::format("[agents]\nendpoints = [{}]\n", list);
}

// An open-loop tcp_echo scenario against `echo`, on `agents`.
Scenario echo_scenario(const std::string& echo, const std::vector<std::string>& agents, const std::string& duration,
                       int threads = 3, double rate = 400) {
  return load_scenario_text(fmt::format(R"(
name = "agents"
[load]
mode = "open"
rate_per_s = {}
threads = {}
duration = "{}"
warmup = "100ms"
deadline = "1s"
[echo]
endpoint = "{}"
{}
[[path]]
kind = "tcp_echo"
)",
                                        rate, threads, duration, echo, agents_toml(agents)),
                            "agents.toml");
}

// How many requests one generator's schedule asks for in each phase (constant arrivals).
std::vector<std::int64_t> schedule_counts(const Scenario& s) {
  auto plan = plan_phases(s.load);
  std::vector<std::int64_t> counts(plan.size());
  for (int t = 0; t < s.load.threads; ++t) {
    ArrivalSchedule schedule(plan, s.load.arrival, s.load.threads, t, s.seed);
    for (Nanos at = schedule.next(); at != kNever; at = schedule.next()) {
      std::size_t p = phase_at(plan, at);
      if (p < plan.size()) ++counts[p];
    }
  }
  return counts;
}

// A `pathbench agent` process on a free loopback port; SIGKILLed at scope exit if still there.
class AgentProcess {
 public:
  explicit AgentProcess(const TempDir& dir, const std::string& name) : log_(dir / (name + ".log")) {
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      std::string out = log_.string();
      if (!freopen(out.c_str(), "w", stdout) || !freopen(out.c_str(), "a", stderr)) ::_exit(126);
      ::execl(PATHBENCH_BINARY, PATHBENCH_BINARY, "agent", "--listen", "127.0.0.1:0", nullptr);
      ::_exit(127);
    }
    const std::regex line("serving pathbench\\.v1\\.Agent on (\\S+)");
    for (int i = 0; i < 300 && address_.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::smatch m;
      std::string text = read_file(log_);
      if (std::regex_search(text, m, line)) address_ = m[1];
    }
    CAPTURE(read_file(log_));
    REQUIRE(!address_.empty());
  }
  ~AgentProcess() { kill(SIGKILL); }
  void kill(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    if (signal == SIGKILL || signal == SIGTERM) {
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  const std::string& address() const { return address_; }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  std::string address_;
};

std::int64_t issued(const PathRunResult& r) {
  std::int64_t n = 0;
  for (auto& p : r.phases) n += p.issued;
  return n;
}

}  // namespace

TEST_CASE("agents: two agents split the load exactly; the merge equals one generator's schedule") {
  TempDir dir;
  EchoServer echo(EchoServerOptions{});
  AgentServer a{AgentServerOptions{}}, b{AgentServerOptions{}};
  Scenario s = echo_scenario(fmt::format("{}:{}", echo.host(), echo.port()), {a.address(), b.address()}, "600ms");
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  REQUIRE(r.paths.size() == 1);
  const PathRunResult& merged = r.paths[0];
  CAPTURE(merged.failure);
  CHECK(merged.failure.empty());
  CHECK(merged.accounting_holds());
  REQUIRE(r.agent_paths.size() == 1);
  auto& shares = r.agent_paths[0].agents;
  REQUIRE(shares.size() == 2);
  CHECK(shares[0].first_thread == 0);
  CHECK(shares[0].thread_count == 2);
  CHECK(shares[1].first_thread == 2);
  CHECK(shares[1].thread_count == 1);
  const auto expected = schedule_counts(s);
  REQUIRE(merged.phases.size() == expected.size());
  for (std::size_t p = 0; p < expected.size(); ++p) {
    CAPTURE(p);
    CHECK(merged.phases[p].issued == shares[0].run.phases[p].issued + shares[1].run.phases[p].issued);
    CHECK(merged.phases[p].issued == expected[p]);
    CHECK(merged.phases[p].latency.total_count() ==
          shares[0].run.phases[p].latency.total_count() + shares[1].run.phases[p].latency.total_count());
  }
  for (auto& share : shares) {
    CHECK_FALSE(share.missing);
    CHECK(share.run.accounting_holds());
    CHECK(issued(share.run) > 0);
    CHECK(share.clock.uncertainty_ns > 0);
    CHECK(std::llabs(share.clock.offset_ns) <= share.clock.uncertainty_ns + 1);  // one host: one clock
  }
  CHECK(a.runs_started() == 1);
  CHECK(b.runs_started() == 1);
  CHECK_FALSE(merged.intervals.empty());

  r.command_line = "test";
  write_results(r, dir / "out");
  std::string summary = read_file(dir / "out" / "summary.csv");
  CAPTURE(summary);
  CHECK(summary.find(",failure,agent\n") != std::string::npos);
  CHECK(std::regex_search(summary, std::regex("\nagents,tcp_echo,.*,main,.*,all\n")));
  CHECK(std::regex_search(summary, std::regex("\nagents,tcp_echo,.*,main,.*," + std::regex_replace(a.address(), std::regex("\\."), "\\.") + "\n")));
  CHECK(std::regex_search(summary, std::regex("\nagents,tcp_echo,.*,main,.*," + std::regex_replace(b.address(), std::regex("\\."), "\\.") + "\n")));
  std::string context = read_file(dir / "out" / "context.json");
  CHECK(context.find("\"clock_uncertainty_ns\"") != std::string::npos);
  CHECK(context.find("\"start_late_ns\"") != std::string::npos);
}

TEST_CASE("agents: query paths reach the coordinator's workers and balancer through the agents") {
  TempDir dir;
  AgentServer a{AgentServerOptions{}}, b{AgentServerOptions{}};
  Scenario s = load_scenario_text(fmt::format(R"(
name = "agentq"
[load]
mode = "closed"
concurrency = 4
threads = 2
duration = "400ms"
warmup = "50ms"
[database]
path = "{}"
sales = 3000
[query]
mix = {{ heavy = 1, point = 1 }}
{}
[[path]]
kind = "grpc_unary"
via = "balancer"
[[path]]
kind = "websocket"
via = "direct"
)",
                                                  (dir / "sales.db").string(), agents_toml({a.address(), b.address()})),
                                      "agentq.toml");
  ensure_database(s, {});
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  REQUIRE(r.paths.size() == 2);
  for (auto& p : r.paths) {
    CAPTURE(p.label);
    CAPTURE(p.failure);
    CHECK(p.failure.empty());
    CHECK(p.accounting_holds());
    CHECK(p.phases.back().count(Outcome::ok) > 10);
    CHECK(p.phases.back().errors() == 0);
  }
}

TEST_CASE("agents: a lost agent's share is missing, the run ends on time and fails") {
  TempDir dir;
  EchoServer echo(EchoServerOptions{});
  AgentServer a{AgentServerOptions{}};
  AgentProcess b(dir, "b");
  Scenario s = echo_scenario(fmt::format("{}:{}", echo.host(), echo.port()), {a.address(), b.address()}, "3s", 2);
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    b.kill(SIGSTOP);  // hung, not closed: only the heartbeat deadline can tell
  });
  const Nanos began = now_ns();
  RunResult r = run_scenario(s, stop, {});
  const Nanos took = now_ns() - began;
  stopper.join();
  b.kill(SIGKILL);
  const Nanos planned = planned_length_ns(s.load) + s.load.deadline_ns;
  CHECK(took < planned + 3 * kNanosPerSecond + 2 * kNanosPerSecond);  // + the Hellos and the start lead
  REQUIRE(r.paths.size() == 1);
  auto& p = r.paths[0];
  CAPTURE(p.failure);
  CHECK(p.failure.find("missing") != std::string::npos);
  CHECK(p.failure.find(b.address()) != std::string::npos);
  REQUIRE(r.agent_paths.size() == 1);
  auto& shares = r.agent_paths[0].agents;
  REQUIRE(shares.size() == 2);
  CHECK_FALSE(shares[0].missing);
  CHECK(shares[1].missing);
  CHECK(issued(p) == issued(shares[0].run));
  CHECK(p.accounting_holds());  // what arrived adds up
  write_results(r, dir / "out");
  std::string summary = read_file(dir / "out" / "summary.csv");
  CAPTURE(summary);
  CHECK(std::regex_search(summary, std::regex(",true,\"?partial: [^\n]*,all\n")));
  CHECK(std::regex_search(summary, std::regex(",true,\"?missing: [^\n]*," + std::regex_replace(b.address(), std::regex("\\."), "\\.") + "\n")));
}

TEST_CASE("agents: an agent whose coordinator goes away stops its load within a second") {
  EchoServer echo(EchoServerOptions{});
  AgentServer agent{AgentServerOptions{}};
  Scenario s = echo_scenario(fmt::format("{}:{}", echo.host(), echo.port()), {agent.address()}, "30s", 1, 200);
  auto stub = v1::Agent::NewStub(grpc::CreateChannel(agent.address(), grpc::InsecureChannelCredentials()));
  for (bool cancel : {false, true}) {
    CAPTURE(cancel);
    grpc::ClientContext context;
    auto stream = stub->Run(&context);
    v1::CoordinatorMessage m;
    m.mutable_run()->set_scenario_toml(scenario_to_toml(s));
    m.mutable_run()->set_path_index(0);
    m.mutable_run()->set_first_thread(0);
    m.mutable_run()->set_thread_count(1);
    REQUIRE(stream->Write(m));
    v1::AgentMessage reply;
    REQUIRE(stream->Read(&reply));
    REQUIRE(reply.has_ready());
    CHECK(reply.ready().failure().empty());
    v1::CoordinatorMessage start;
    start.mutable_start()->set_start_ns(now_ns() + 20 * kNanosPerMilli);  // one host: one clock
    REQUIRE(stream->Write(start));
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    const Nanos silent_from = now_ns();  // the last message the agent heard was the Start
    if (cancel) context.TryCancel();
    // Heartbeats keep coming until the agent gives up; then its Result (stopped early).
    bool got_result = false;
    while (stream->Read(&reply))
      if (reply.has_result()) {
        got_result = true;
        CHECK(reply.result().interrupted());
        break;
      }
    if (!cancel) CHECK(got_result);
    context.TryCancel();
    stream->Finish();
    for (int i = 0; i < 100 && agent.last_run_finished_ns() < silent_from; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(agent.last_run_finished_ns() > silent_from);
    // No Ping for 1 s (or the cancel) + a heartbeat to notice + the drain (echo: at once).
    CHECK(agent.last_run_finished_ns() - silent_from < 1600 * kNanosPerMilli);
    CHECK(agent.last_run_lost_coordinator());
    CHECK(agent.last_run_issued() < 200 * 3);  // far from the planned 30 s
  }
  CHECK(agent.runs_started() == 2);  // it took the next Run after the first was lost
}

TEST_CASE("agents: a version mismatch is refused before any load") {
  AgentServerOptions options;
  options.version = "pathbench 0.0.0-other";
  AgentServer other(options);
  std::string refused;
  try {
    hello_agents({other.address()}, pathbench_version_line());
  } catch (const AgentsError& e) {
    refused = e.what();
  }
  CHECK(refused.find("runs \"pathbench 0.0.0-other\"") != std::string::npos);
  TempDir dir;
  write_file(dir / "s.toml", "[load]\nthreads = 2\n[echo]\nendpoint = \"127.0.0.1:9\"\n" + agents_toml({other.address()}) +
                                 "[[path]]\nkind = \"tcp_echo\"\n");
  auto r = run_pathbench("run " + (dir / "s.toml").string() + " --out " + (dir / "out").string());
  CAPTURE(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("0.0.0-other") != std::string::npos);
  CHECK(other.runs_started() == 0);
}

TEST_CASE("agents: [agents] refuses what agents cannot run, at validate time") {
  auto error_of = [](const std::string& toml) {
    try {
      load_scenario_text(toml, "a.toml");
    } catch (const ScenarioError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string two = agents_toml({"127.0.0.1:1", "127.0.0.1:2"});
  CHECK(error_of("[load]\nthreads = 2\n" + two + "[[path]]\nkind = \"broker\"\n").find("in-process broker") !=
        std::string::npos);
  CHECK(error_of("[load]\nthreads = 2\n" + two + "[[path]]\nkind = \"tcp_echo\"\n").find("[echo] endpoint") !=
        std::string::npos);
  CHECK(error_of("[load]\nthreads = 2\n" + two + "[[path]]\nkind = \"messaging\"\n").find("one-way messaging") !=
        std::string::npos);
  CHECK(error_of("[load]\nthreads = 2\n" + two + "[[path]]\nkind = \"task\"\nvia = \"queue\"\n").find("through the queue") !=
        std::string::npos);
  CHECK(error_of("[load]\nthreads = 2\n" + two + "[[path]]\nkind = \"task\"\nvia = \"direct\"\n").empty());
  CHECK(error_of("[load]\nthreads = 1\n[echo]\nendpoint = \"127.0.0.1:9\"\n" + two + "[[path]]\nkind = \"tcp_echo\"\n")
            .find("load.threads >= 2") != std::string::npos);
  CHECK(error_of("[agents]\nendpoints = [\"nohost\"]\n[[path]]\nkind = \"grpc_unary\"\n").find("a.toml:2:") !=
        std::string::npos);
  CHECK(error_of("[load]\nthreads = 2\n[agents]\nendpoints = [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n[[path]]\nkind = \"grpc_unary\"\n")
            .find("twice") != std::string::npos);
  // Round trip: what the coordinator sends an agent loads back the same.
  Scenario s = load_scenario_text("[load]\nthreads = 2\n" + two + "[[path]]\nkind = \"grpc_unary\"\n", "a.toml");
  Scenario again = load_scenario_text(scenario_to_toml(s), "again.toml");
  CHECK(again.agents.endpoints == s.agents.endpoints);
  ScenarioOverrides fewer;
  fewer.threads = 1;
  CHECK_THROWS_AS(apply_overrides(s, fewer), ScenarioError);
}

TEST_CASE("agents: pathbench run coordinates two `pathbench agent` processes; a killed one is missing, exit 1") {
  TempDir dir;
  EchoServer echo(EchoServerOptions{});
  AgentProcess a(dir, "a"), b(dir, "b");
  const std::string echo_at = fmt::format("{}:{}", echo.host(), echo.port());
  auto scenario = [&](const std::string& duration) {
    return fmt::format("name = \"cli\"\n[load]\nrate_per_s = 300\nthreads = 2\nduration = \"{}\"\nwarmup = \"100ms\"\n"
                       "deadline = \"1s\"\n[echo]\nendpoint = \"{}\"\n{}[[path]]\nkind = \"tcp_echo\"\n",
                       duration, echo_at, agents_toml({a.address(), b.address()}));
  };
  write_file(dir / "ok.toml", scenario("500ms"));
  auto ok = run_pathbench("run " + (dir / "ok.toml").string() + " --out " + (dir / "ok").string());
  CAPTURE(ok.output);
  CHECK(ok.exit_code == 0);
  std::string summary = read_file(dir / "ok" / "summary.csv");
  CAPTURE(summary);
  CHECK(std::count(summary.begin(), summary.end(), '\n') == 4);  // header, all, two agents
  MESSAGE("pathbench run with two agents:\n" << ok.output << summary);

  write_file(dir / "kill.toml", scenario("3s"));
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1800));
    b.kill(SIGKILL);
  });
  const Nanos began = now_ns();
  auto killed = run_pathbench("run " + (dir / "kill.toml").string() + " --out " + (dir / "kill").string());
  const Nanos took = now_ns() - began;
  killer.join();
  CAPTURE(killed.output);
  CHECK(killed.exit_code == 1);
  CHECK(killed.output.find("WARNING") != std::string::npos);
  CHECK(took < 3100 * kNanosPerMilli + kNanosPerSecond + 3 * kNanosPerSecond + 2 * kNanosPerSecond);
  std::string partial = read_file(dir / "kill" / "summary.csv");
  CAPTURE(partial);
  CHECK(partial.find("missing: ") != std::string::npos);
  MESSAGE("pathbench run with an agent killed mid-run:\n" << killed.output << partial);
}
