// `pathbench agent`: a load generator that waits for a coordinator (runner/agent_service.h).
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <csignal>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/tls_options.h"
#include "net/tls_policy.h"
#include "core/host_port.h"
#include "runner/agent_service.h"

namespace pathbench::cli {

namespace po = boost::program_options;

int agent_main(std::span<const std::string> args) {
  po::options_description visible(
      "pathbench agent --listen HOST:PORT — run load for a coordinator (`pathbench run` with [agents]) until "
      "SIGINT/SIGTERM\nserves pathbench.v1.Agent (+ grpc.health.v1, reflection); see docs/distributed.md");
  visible.add_options()("help,h", "show this help")(
      "listen", po::value<std::string>()->default_value("127.0.0.1:50070"),
      "host:port of the control channel (port 0: a free port, printed)");
  add_tls_options(visible);
  po::variables_map vm;
  if (int code = parse_options(args, visible, {}, vm, visible); code >= 0) return code;
  const std::string listen = vm["listen"].as<std::string>();
  if (!parse_host_port(listen, /*allow_port_zero=*/true)) {
    fmt::print(stderr, "pathbench agent: --listen: expected host:port, found \"{}\"\n", listen);
    return kExitBadInput;
  }
  std::shared_ptr<const TlsMaterial> tls;
  try {
    tls = read_tls_options(vm);  // the control channel's identity and the load's client identity
  } catch (const po::error& e) {
    fmt::print(stderr, "pathbench agent: {}\n", e.what());
    return kExitBadInput;
  }
  // Signals go to sigwait below, not to a handler on whichever thread gRPC happens to run.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  try {
    AgentServerOptions options;
    options.listen = listen;
    options.tls = tls;
    AgentServer agent(options);
    fmt::print("agent: {} serving pathbench.v1.Agent on {}\n", options.version, agent.address());
    std::fflush(stdout);
    int signal = 0;
    sigwait(&set, &signal);
    fmt::print("agent: signal {}, stopping (a run in progress drains first)\n", signal);
    std::fflush(stdout);
    agent.shutdown();
  } catch (const net::PlaintextRefused& e) {
    fmt::print(stderr, "pathbench agent: {}\n", e.what());
    return kExitBadInput;
  } catch (const std::exception& e) {
    fmt::print(stderr, "pathbench agent: {}\n", e.what());
    return kExitRunFailed;
  }
  return kExitOk;
}

}  // namespace pathbench::cli
