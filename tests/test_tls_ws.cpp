// WebSocket and HTTP over mutual TLS (net/websocket: wss://, https://): a WsServer with TLS
// material serves only clients with a certificate from its CA — no client certificate, another
// CA's, a wrong server name and plaintext are refused, that connection only; /metrics over https
// with curl; `run` with [tls] drives the websocket path over wss:// through the balancer and
// directly; [tls] lets the spawned fronts listen off loopback without `insecure`. The test PKI is
// made at test time (tests/make_test_certs.sh); cases that need it, or curl, skip with the reason.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "cli/tls_options.h"
#include "core/tls_config.h"
#include "net/tls_policy.h"
#include "net/websocket.h"
#include "pathbench.pb.h"
#include "paths/registry.h"
#include "report/metrics.h"
#include "roles/worker.h"
#include "scenario/loader.h"
#include "skip_guard.h"
#include "test_helpers.h"
#include "test_pki.h"

using namespace pathbench;
using pathbench::testing::TempDir;

namespace {


// One WebSocket connection to `address`/query (wss:// with `tls`), one echo request: "" when it
// was answered OK, else why not.
std::string ws_echo(const std::string& address, const TlsMaterial* tls) {
  boost::asio::io_context io;
  std::string outcome = "no answer";
  net::WsLimits limits;
  limits.handshake_timeout_ns = 3 * kNanosPerSecond;
  net::WsChannel::Callbacks callbacks{
      [&](const std::shared_ptr<net::WsChannel>& channel, std::string_view payload, bool) {
        v1::QueryReply reply;
        const bool ok = reply.ParseFromArray(payload.data(), static_cast<int>(payload.size())) && reply.request_id() == 7 &&
                        reply.status().code() == 0;
        outcome = ok ? "" : "a wrong reply";
        channel->close(net::CloseCode::normal, "done");
      },
      [](const std::shared_ptr<net::WsChannel>&, const std::string&) {}};
  net::ws_connect(io, address, "/query", limits, tls, std::move(callbacks),
                  [&](std::shared_ptr<net::WsChannel> channel, std::string error) {
                    if (!channel) {
                      outcome = error.empty() ? "no channel and no reason" : error;
                      return;
                    }
                    v1::QueryRequest request;
                    request.set_request_id(7);
                    request.set_kind(v1::QUERY_KIND_ECHO);
                    channel->send(request.SerializeAsString());
                  });
  io.run_for(std::chrono::seconds(8));
  return outcome;
}



}  // namespace

TEST_CASE("tls: a worker's WebSocket front over mutual TLS answers a client of its CA; no cert, another CA, a wrong name "
          "and plaintext are refused while it keeps serving") {
  testing::TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  WorkerOptions o;
  o.ws_listen = "127.0.0.1:0";
  o.tls = pki.identity("ca.pem", "node");
  WorkerServer worker(o);
  const std::string address = worker.ws_address();
  REQUIRE_FALSE(address.empty());

  const auto client = pki.identity("ca.pem", "client");
  CHECK(ws_echo(address, client.get()) == "");
  auto named = std::make_shared<TlsMaterial>(*client);
  named->server_name = "localhost";  // the certificate names localhost too
  CHECK(ws_echo(address, named.get()) == "");

  // No client certificate: the server requires one.
  TlsMaterial no_cert;
  no_cert.ca_pem = client->ca_pem;
  const std::string without = ws_echo(address, &no_cert);
  CAPTURE(without);
  CHECK_FALSE(without.empty());
  // A certificate from another CA; a client that trusts another CA; a name the certificate lacks.
  CHECK_FALSE(ws_echo(address, pki.identity("ca.pem", "stranger").get()).empty());
  const std::string foreign = ws_echo(address, pki.identity("other-ca.pem", "stranger").get());
  CAPTURE(foreign);
  CHECK(foreign.find("TLS handshake with wss://") != std::string::npos);
  named->server_name = "not-the-server.example";
  CHECK_FALSE(ws_echo(address, named.get()).empty());
  // Plaintext against the TLS front: that connection is closed.
  const std::string plain = ws_echo(address, nullptr);
  CAPTURE(plain);
  CHECK_FALSE(plain.empty());
  // The server kept serving the others.
  CHECK(ws_echo(address, client.get()) == "");
  CHECK(worker.stats().ok == 3);
}

TEST_CASE("tls: /metrics over https with mutual TLS, checked with curl; plaintext and a client without a certificate refused") {
  testing::TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  if (std::system("command -v curl >/dev/null 2>&1") != 0) {
    MESSAGE("SKIP: curl is missing (Debian package curl)");
    return;
  }
  MetricsHttpServer server("127.0.0.1:0", [] { return std::string("pathbench_tls_test 1\n"); }, pki.identity("ca.pem", "node"));
  CHECK(server.url() == fmt::format("https://{}/metrics", server.address()));
  const std::string curl = fmt::format("curl -sS --max-time 5 --cacert '{}'", (pki / "ca.pem").string());
  const std::string with_cert =
      fmt::format("{} --cert '{}' --key '{}'", curl, (pki / "client.pem").string(), (pki / "client.key").string());
  auto served = testing::run_command(with_cert + " " + server.url());
  CAPTURE(served.output);
  CHECK(served.exit_code == 0);
  CHECK(served.output.find("pathbench_tls_test 1") != std::string::npos);
  auto no_cert = testing::run_command(curl + " " + server.url());
  CAPTURE(no_cert.output);
  CHECK(no_cert.exit_code != 0);
  CHECK(no_cert.output.find("pathbench_tls_test") == std::string::npos);
  auto plain = testing::run_command(fmt::format("curl -sS --max-time 5 http://{}/metrics", server.address()));
  CAPTURE(plain.output);
  CHECK(plain.exit_code != 0);
  CHECK(plain.output.find("pathbench_tls_test") == std::string::npos);
  // Keep-alive and a second request on the same connection; the server still serves after the refusals.
  auto twice = testing::run_command(with_cert + " " + server.url() + " " + server.url());
  CHECK(twice.exit_code == 0);
  CHECK(twice.output.find("pathbench_tls_test 1\npathbench_tls_test 1") != std::string::npos);
}

TEST_CASE("tls: pathbench run with [tls]: the websocket path through the balancer and direct over wss://, accounting holds") {
  testing::TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  TempDir dir;
  testing::write_file(dir / "wss.toml", testing::short_run_scenario("wss_run", dir / "sales.db", R"([[path]]
kind = "websocket"
via = "balancer"
[[path]]
kind = "websocket"
via = "direct"
)" + pki.scenario_table()));
  auto r = testing::run_pathbench("run '" + (dir / "wss.toml").string() + "' --out '" + (dir / "out").string() + "' --no-charts");
  CAPTURE(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("accounting holds") != std::string::npos);
  CHECK(r.output.find("wss://127.0.0.1:") != std::string::npos);
  CHECK(r.output.find("ws://127.0.0.1:") == std::string::npos);
  const std::string summary = testing::read_file(dir / "out" / "summary.csv");
  for (const char* label : {"websocket_balancer", "websocket_direct"}) {
    CAPTURE(label);
    const std::string ok = testing::summary_cell(summary, label, "ok");
    REQUIRE_FALSE(ok.empty());
    CHECK(std::stoll(ok) > 0);
    CHECK(testing::summary_cell(summary, label, "accounting_ok") == "true");
  }
  const std::string context = testing::read_file(dir / "out" / "context.json");
  CHECK(context.find("wss://127.0.0.1:") != std::string::npos);
  CHECK(context.find("PRIVATE KEY") == std::string::npos);
}

TEST_CASE("tls: with [tls] the spawned WebSocket fronts may listen off loopback without insecure; without it they may not") {
  testing::TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  const std::string open = "[workers]\nlisten_host = \"0.0.0.0\"\n[balancer]\nlisten_host = \"0.0.0.0\"\n"
                           "[[path]]\nkind = \"websocket\"\n";
  const std::string tls = fmt::format("[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n", (pki / "ca.pem").string(),
                                      (pki / "node.pem").string(), (pki / "node.key").string());
  CHECK_THROWS_WITH_AS(cli::apply_scenario_tls(load_scenario_text(open, "open.toml")),
                       doctest::Contains("[workers] listen_host"), std::runtime_error);
  CHECK_NOTHROW(cli::apply_scenario_tls(load_scenario_text(open + tls, "open_tls.toml")));
  CHECK(net::client_tls() != nullptr);
  CHECK_NOTHROW(cli::apply_scenario_tls(load_scenario_text(open + "[tls]\nenabled = false\ninsecure = true\n", "insecure.toml")));
  // The in-process embedded broker too: off loopback with [tls] (tcps://, https://, wss://) or
  // insecure; neither is refused before anything starts.
  const std::string queue = "[workers]\nlisten_host = \"0.0.0.0\"\n[[path]]\nkind = \"queue\"\nvia = \"embedded\"\n";
  CHECK_NOTHROW(cli::apply_scenario_tls(load_scenario_text(queue + tls, "queue_tls.toml")));
  CHECK_THROWS_WITH_AS(cli::apply_scenario_tls(load_scenario_text(queue, "queue_plain.toml")),
                       doctest::Contains("[workers] listen_host"), std::runtime_error);
  // Workers elsewhere: the broker path's in-process broker is the one listener left, and says so.
  const std::string broker = "[workers]\nlisten_host = \"0.0.0.0\"\nendpoints = [\"10.0.0.5:50052\"]\n[[path]]\nkind = \"broker\"\n";
  CHECK_THROWS_WITH_AS(cli::apply_scenario_tls(load_scenario_text(broker, "broker_plain.toml")),
                       doctest::Contains("the in-process embedded broker"), std::runtime_error);
  CHECK_NOTHROW(cli::apply_scenario_tls(load_scenario_text(broker + tls, "broker_tls.toml")));
  CHECK_NOTHROW(cli::apply_scenario_tls(load_scenario_text(queue + "[tls]\nenabled = false\ninsecure = true\n", "queue_insecure.toml")));
  // A broker given by url is not started here.
  CHECK_NOTHROW(cli::apply_scenario_tls(load_scenario_text(
      "[workers]\nlisten_host = \"0.0.0.0\"\n[broker]\nurl = \"tcp://10.0.0.5:7400\"\n[[path]]\nkind = \"queue\"\nvia = \"embedded\"\n" + tls,
      "queue_url.toml")));
  // Back to the process defaults for the other cases.
  net::set_client_tls(nullptr);
  net::set_plaintext_off_loopback_allowed(false);
}
