#include "cli/tls_options.h"

#include <fmt/format.h>

#include "core/host_port.h"
#include "net/tls_policy.h"

namespace pathbench::cli {

namespace po = boost::program_options;

void add_tls_options(po::options_description& options) {
  options.add_options()("tls-cert", po::value<std::string>(), "PEM certificate chain this end presents (mutual TLS: with --tls-key and --tls-ca)")(
      "tls-key", po::value<std::string>(), "PEM private key of --tls-cert")(
      "tls-ca", po::value<std::string>(), "PEM CA(s) the peers' certificates must chain to; peers without one are refused")(
      "tls-server-name", po::value<std::string>(), "the name to verify in servers' certificates (default: the address's host)")(
      "insecure", "allow plaintext listeners on non-loopback addresses (printed as a WARNING); "
                  "without it such a listener refuses to start");
}

std::shared_ptr<const TlsMaterial> read_tls_options(const po::variables_map& vm) {
  TlsFiles files;
  if (vm.count("tls-ca")) files.ca = vm["tls-ca"].as<std::string>();
  if (vm.count("tls-cert")) files.cert = vm["tls-cert"].as<std::string>();
  if (vm.count("tls-key")) files.key = vm["tls-key"].as<std::string>();
  if (vm.count("tls-server-name")) files.server_name = vm["tls-server-name"].as<std::string>();
  if (!files.empty() && (files.ca.empty() || files.cert.empty() || files.key.empty()))
    throw po::error("--tls-cert, --tls-key and --tls-ca go together (mutual TLS)");
  std::shared_ptr<const TlsMaterial> material;
  try {
    material = load_tls_material(files);
  } catch (const std::exception& e) {
    throw po::error(e.what());
  }
  net::set_plaintext_off_loopback_allowed(vm.count("insecure") > 0);
  net::set_client_tls(material);
  return material;
}

namespace {

// Whether the run starts the embedded broker in this process (Topology::broker_server): a broker
// path, or a queue / messaging / task-via-queue path over the embedded broker with no url given.
bool spawns_embedded_broker(const Scenario& s) {
  for (auto& p : s.paths)
    if (p.kind == "broker" || (path_broker_kind(s, p) == "embedded" && broker_url_for(s.broker, "embedded") == "auto"))
      return true;
  return false;
}

}  // namespace

void apply_scenario_tls(const Scenario& scenario) {
  net::set_plaintext_off_loopback_allowed(scenario.tls.insecure);
  net::set_client_tls(load_tls_material(scenario.tls.for_role("client")));
  // The spawned workers' and balancer's WebSocket fronts listen on listen_host with their role's
  // [tls] identity (wss://) when [tls] is set; without it they are plaintext and off loopback
  // need `insecure = true`, like every listener.
  auto check = [&](const char* table, const char* role, const std::string& host) {
    const bool tls = !scenario.tls.for_role(role).empty();
    std::string warning;
    std::string refusal = plaintext_listen_refusal(fmt::format("[{}] listen_host: the spawned servers' WebSocket/HTTP fronts", table),
                                                   HostPort{host, 0}.to_string(), tls, scenario.tls.insecure, &warning);
    if (!refusal.empty()) throw std::runtime_error(refusal + " (with a [tls] table their gRPC and WebSocket fronts use mutual TLS)");
  };
  if (scenario.workers.endpoints.empty()) check("workers", "worker", scenario.workers.listen_host);
  if (scenario.balancer.endpoint.empty()) check("balancer", "balancer", scenario.balancer.listen_host);
  // The in-process embedded broker (native protocol and seed fronts) listens on [workers]
  // listen_host too, with the broker identity ([tls.broker], else [tls]) — said here, before
  // anything starts, rather than by its listener in the middle of the run.
  if (spawns_embedded_broker(scenario)) {
    std::string warning;
    const std::string refusal = plaintext_listen_refusal(
        "[workers] listen_host: the in-process embedded broker", HostPort{scenario.workers.listen_host, 0}.to_string(),
        !scenario.tls.for_role("broker").empty(), scenario.tls.insecure, &warning);
    if (!refusal.empty()) throw std::runtime_error(refusal + " (with a [tls] table it speaks mutual TLS: tcps://, https://, wss://)");
  }
}

}  // namespace pathbench::cli
