// TLS on the links that leave a host (core/tls_config, net/tls_policy, net/grpc_credentials,
// scenario [tls], `serve`/`run`): mutual TLS accepts only a client with a certificate from the
// configured CA; a plaintext listener off loopback is refused unless allowed. The test PKI is made
// at test time with the openssl command (tests/make_test_certs.sh); the cases that need it skip
// with the reason when it is missing.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>

#include "core/tls_config.h"
#include "net/grpc_credentials.h"
#include "net/grpc_server.h"
#include "net/listener.h"
#include "net/tls_policy.h"
#include "paths/registry.h"
#include "pathbench.grpc.pb.h"
#include "roles/worker.h"
#include "scenario/loader.h"
#include "skip_guard.h"
#include "test_helpers.h"
#include "test_pki.h"

using namespace pathbench;
using pathbench::testing::TempDir;

namespace {


grpc::Status echo_over(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = v1::Worker::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  v1::QueryRequest request;
  request.set_request_id(7);
  request.set_kind(v1::QUERY_KIND_ECHO);
  v1::QueryReply reply;
  return stub->Query(&context, request, &reply);
}


}  // namespace

TEST_SUITE("unit") {

TEST_CASE("tls: the plaintext rule: loopback stays plaintext, anything else needs TLS or an explicit --insecure") {
  for (const char* host : {"127.0.0.1", "127.9.8.7", "::1", "localhost", "::ffff:127.0.0.1"}) {
    CAPTURE(host);
    CHECK(is_loopback_host(host));
  }
  for (const char* host : {"0.0.0.0", "::", "10.77.0.11", "192.168.1.2", "128.0.0.1", "::ffff:10.0.0.1", "example.org"}) {
    CAPTURE(host);
    CHECK_FALSE(is_loopback_host(host));
  }
  std::string warning;
  CHECK(plaintext_listen_refusal("worker", "127.0.0.1:0", false, false, &warning).empty());
  CHECK(plaintext_listen_refusal("worker", "[::1]:50051", false, false, &warning).empty());
  CHECK(warning.empty());
  const std::string refused = plaintext_listen_refusal("worker w", "10.77.0.11:50052", false, false, &warning);
  CHECK(refused.find("worker w: refusing to listen on 10.77.0.11:50052 in plaintext") == 0);
  CHECK(refused.find("--insecure") != std::string::npos);
  CHECK_FALSE(plaintext_listen_refusal("x", "0.0.0.0:0", false, false).empty());
  CHECK_FALSE(plaintext_listen_refusal("x", "[::]:0", false, false).empty());
  // TLS on: no question; plaintext allowed: starts, with the loud line.
  CHECK(plaintext_listen_refusal("x", "0.0.0.0:0", true, false, &warning).empty());
  CHECK(warning.empty());
  CHECK(plaintext_listen_refusal("agent", "10.77.0.21:50070", false, true, &warning).empty());
  CHECK(warning.find("WARNING: agent listens on 10.77.0.21:50070 in PLAINTEXT") == 0);
}

TEST_CASE("tls: [tls] paths are resolved next to the scenario file and checked readable at file:line:col; the key never written") {
  TempDir dir;
  std::filesystem::create_directories(dir / "pki");
  testing::write_file(dir / "pki" / "ca.pem", "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
  testing::write_file(dir / "pki" / "node.pem", "-----BEGIN CERTIFICATE-----\nNODE\n-----END CERTIFICATE-----\n");
  testing::write_file(dir / "pki" / "node.key", "-----BEGIN PRIVATE KEY-----\nSECRET-KEY-BYTES\n-----END PRIVATE KEY-----\n");
  const std::string base = R"([[path]]
kind = "grpc_unary"
[tls]
ca = "pki/ca.pem"
cert = "pki/node.pem"
key = "pki/node.key"
)";
  testing::write_file(dir / "ok.toml", base + "[tls.balancer]\nserver_name = \"front.example\"\n");
  const Scenario s = load_scenario_file(dir / "ok.toml");
  CHECK(s.tls.on());
  CHECK(s.tls.files.ca == dir / "pki" / "ca.pem");
  CHECK(s.tls.for_role("balancer").server_name == "front.example");
  CHECK(s.tls.for_role("worker").key == dir / "pki" / "node.key");
  const std::string toml = scenario_to_toml(s), json = scenario_to_json(s);
  CHECK(toml.find((dir / "pki" / "node.key").string()) != std::string::npos);  // the path is fine
  CHECK(toml.find("SECRET-KEY-BYTES") == std::string::npos);
  CHECK(json.find("SECRET-KEY-BYTES") == std::string::npos);
  CHECK(load_tls_material(s.tls.for_role("client"))->key_pem.find("SECRET-KEY-BYTES") != std::string::npos);
  // Round trip: what is written loads again to the same files.
  CHECK(load_scenario_text(toml, "again.toml").tls.for_role("worker").cert == dir / "pki" / "node.pem");

  // A missing file: at the key's position.
  testing::write_file(dir / "missing.toml", "[[path]]\nkind = \"grpc_unary\"\n[tls]\nca = \"pki/ca.pem\"\ncert = \"pki/nope.pem\"\nkey = \"pki/node.key\"\n");
  try {
    load_scenario_file(dir / "missing.toml");
    FAIL("a missing cert file must be refused");
  } catch (const ScenarioError& e) {
    CHECK(std::string(e.what()).find("missing.toml:5:8: tls.cert: the file " + (dir / "pki" / "nope.pem").string() +
                                     " does not exist") != std::string::npos);
  }
  // Mutual TLS: a role without a key is refused; enabled = false needs nothing.
  testing::write_file(dir / "nokey.toml", "[[path]]\nkind = \"grpc_unary\"\n[tls]\nca = \"pki/ca.pem\"\ncert = \"pki/node.pem\"\n");
  CHECK_THROWS_WITH_AS(load_scenario_file(dir / "nokey.toml"), doctest::Contains("missing: key"), ScenarioError);
  testing::write_file(dir / "off.toml", "[[path]]\nkind = \"grpc_unary\"\n[tls]\nenabled = false\n");
  CHECK_FALSE(load_scenario_file(dir / "off.toml").tls.on());
  CHECK(load_scenario_file(dir / "off.toml").tls.for_role("client").empty());
  testing::write_file(dir / "typo.toml", "[[path]]\nkind = \"grpc_unary\"\n[tls]\nenabled = false\ncerts = \"x\"\n");
  CHECK_THROWS_AS(load_scenario_file(dir / "typo.toml"), ScenarioError);
}

}  // TEST_SUITE("unit")

TEST_CASE("tls: listeners and gRPC servers refuse plaintext off loopback before binding anything") {
  boost::asio::io_context io;
  net::set_plaintext_off_loopback_allowed(false);
  CHECK_THROWS_AS(net::Listener(io, std::string("10.77.0.1:0"), "echo server"), net::PlaintextRefused);
  v1::Worker::CallbackService unused;
  net::GrpcServerOptions o;
  o.listen = "10.77.0.1:0";
  CHECK_THROWS_AS(net::GrpcServer(o, {{&unused, "test.Service"}}), net::PlaintextRefused);
  // Allowed: the rule lets it through (binding an address this host lacks then fails as usual).
  net::set_plaintext_off_loopback_allowed(true);
  try {
    net::Listener listener(io, std::string("10.77.0.1:0"), "echo server");
    FAIL("10.77.0.1 is not an address of this host");
  } catch (const net::PlaintextRefused&) {
    FAIL("allowed plaintext must not be refused");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("cannot listen on 10.77.0.1:0") != std::string::npos);
  }
  net::set_plaintext_off_loopback_allowed(false);
  net::Listener loopback(io, std::string("127.0.0.1:0"), "echo server");
  CHECK(loopback.port() > 0);
}

TEST_CASE("tls: a worker with mutual TLS answers a client of its CA and refuses no cert, another CA's cert and plaintext") {
  testing::TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  WorkerOptions o;
  o.ws_listen.clear();
  o.tls = pki.identity("ca.pem", "node");
  WorkerServer worker(o);
  const std::string address = worker.address();

  CHECK(echo_over(net::make_grpc_channel(address, pki.identity("ca.pem", "client").get())).ok());
  // The name checked can be set (the certificate says localhost too).
  auto named = std::make_shared<TlsMaterial>(*pki.identity("ca.pem", "client"));
  named->server_name = "localhost";
  CHECK(echo_over(net::make_grpc_channel(address, named.get())).ok());
  named->server_name = "not-the-server.example";
  CHECK_FALSE(echo_over(net::make_grpc_channel(address, named.get())).ok());

  // No client certificate: the server requires one.
  grpc::SslCredentialsOptions no_cert;
  no_cert.pem_root_certs = testing::read_file(pki / "ca.pem");
  CHECK_FALSE(echo_over(grpc::CreateChannel(address, grpc::SslCredentials(no_cert))).ok());
  // A certificate from another CA.
  CHECK_FALSE(echo_over(net::make_grpc_channel(address, pki.identity("ca.pem", "stranger").get())).ok());
  // A client that trusts only another CA does not accept the server.
  CHECK_FALSE(echo_over(net::make_grpc_channel(address, pki.identity("other-ca.pem", "stranger").get())).ok());
  // Plaintext.
  CHECK_FALSE(echo_over(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())).ok());
  CHECK(worker.stats().ok == 2);
}

TEST_CASE("tls: pathbench run with [tls]: gRPC unary and stream through the balancer and direct, all over mutual TLS") {
  testing::TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  TempDir dir;
  const std::string scenario = testing::short_run_scenario("tls_run", dir / "sales.db", R"([[path]]
kind = "grpc_unary"
via = "balancer"
[[path]]
kind = "grpc_stream"
via = "balancer"
[[path]]
kind = "grpc_unary"
via = "direct"
label = "unary_direct"
)" + pki.scenario_table());
  testing::write_file(dir / "tls.toml", scenario);
  auto r = testing::run_pathbench("run '" + (dir / "tls.toml").string() + "' --out '" + (dir / "out").string() + "' --no-charts");
  CAPTURE(r.output);
  REQUIRE(r.exit_code == 0);
  for (const char* label : {"grpc_unary_balancer", "grpc_stream_balancer", "unary_direct"})
    CHECK(r.output.find(fmt::format("{}: issued", label)) != std::string::npos);
  CHECK(r.output.find("accounting holds") != std::string::npos);
  const std::string summary = testing::read_file(dir / "out" / "summary.csv");
  CHECK(summary.find("grpc_stream_balancer") != std::string::npos);
  const std::string context = testing::read_file(dir / "out" / "context.json");
  CHECK(context.find((pki / "node.pem").string()) != std::string::npos);
  CHECK(context.find("PRIVATE KEY") == std::string::npos);

  // The same scenario with a client identity from another CA: every request fails, none is lost.
  testing::write_file(dir / "stranger.toml", fmt::format(R"(name = "tls_stranger"
[load]
rate_per_s = 50
threads = 1
duration = "500ms"
warmup = "0s"
deadline = "500ms"
[database]
path = "{5}"
sales = 2000
[query]
mix = {{ echo = 1 }}
[[path]]
kind = "grpc_unary"
via = "direct"
[tls]
ca = "{0}"
cert = "{1}"
key = "{2}"
[tls.worker]
cert = "{3}"
key = "{4}"
)",
                                                         (pki / "ca.pem").string(), (pki / "stranger.pem").string(),
                                                         (pki / "stranger.key").string(), (pki / "node.pem").string(),
                                                         (pki / "node.key").string(), (dir / "sales.db").string()));
  auto refused = testing::run_pathbench("run '" + (dir / "stranger.toml").string() + "' --out '" + (dir / "out2").string() + "' --no-charts");
  CAPTURE(refused.output);
  CHECK(refused.exit_code != 0);
  CHECK(refused.output.find("accounting holds") == std::string::npos);
}

TEST_CASE("tls: serve and run refuse a plaintext listener off loopback with exit 2; --insecure starts it with a WARNING") {
  auto refused = testing::run_pathbench("serve balancer --listen 0.0.0.0:0 --workers 127.0.0.1:1");
  CHECK(refused.exit_code == 2);
  CHECK(refused.output.find("refusing to listen on 0.0.0.0:0 in plaintext") != std::string::npos);
  auto agent = testing::run_pathbench("agent --listen 0.0.0.0:0");
  CHECK(agent.exit_code == 2);
  CHECK(agent.output.find("refusing to listen") != std::string::npos);

  auto allowed = testing::run_command(fmt::format("timeout -s TERM 2 '{}' serve echo --listen 0.0.0.0:0 --insecure", PATHBENCH_BINARY));
  CAPTURE(allowed.output);
  CHECK(allowed.output.find("WARNING: echo server listens on 0.0.0.0:0 in PLAINTEXT") != std::string::npos);
  CHECK(allowed.output.find("echo serving raw TCP on 0.0.0.0:") != std::string::npos);

  TempDir dir;
  testing::write_file(dir / "open.toml", "[workers]\nlisten_host = \"0.0.0.0\"\n[[path]]\nkind = \"grpc_unary\"\n");
  auto run = testing::run_pathbench("run '" + (dir / "open.toml").string() + "' --out '" + (dir / "out").string() + "'");
  CHECK(run.exit_code == 2);
  CHECK(run.output.find("[workers] listen_host") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "out"));
}
