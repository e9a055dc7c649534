// The embedded broker over mutual TLS (broker/native_server + native_client over net::TlsSocket,
// the seed fronts through net's gRPC and WebSocket/HTTP servers): the native protocol at
// tcps:// serves only clients with a certificate from its CA — plaintext, no certificate, another
// CA's certificate and a wrong server name are refused, that connection only; the mq backend
// over tcps://; `serve broker --tls-*` checked with curl (https /api/*); `run` with [tls]
// drives the queue path and the broker path's fronts over TLS. The PKI is made at test time
// (tests/make_test_certs.sh); cases that need it, or curl, skip with the reason.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <map>
#include <optional>
#include <thread>

#include "broker/broker_server.h"
#include "broker/native_client.h"
#include "mq/backends.h"
#include "scenario/loader.h"
#include "skip_guard.h"
#include "test_helpers.h"
#include "test_pki.h"

using namespace pathbench;
using namespace pathbench::broker;
using pathbench::testing::TempDir;
using pathbench::testing::TestPki;

namespace {

// One connection to `address`, one ping: "" when the pong came back, else why not.
std::string native_ping(const std::string& address, NativeClientTls tls) {
  boost::asio::io_context io;
  std::string outcome = "no answer";
  auto client = std::make_shared<NativeClient>(io, protocol::kDefaultMaxFrameBytes, std::move(tls));
  client->connect(
      address, 3 * kNanosPerSecond,
      [&](const protocol::Frame& f) {
        outcome = f.type == protocol::FrameType::pong && f.seq == 5 ? "" : "a wrong answer";
        client->close();
      },
      [&](const std::string& reason) { outcome = reason; },
      [&](const std::string& error) {
        if (!error.empty()) {
          outcome = error;
          return;
        }
        client->send({.type = protocol::FrameType::ping, .seq = 5});
      });
  io.run_for(std::chrono::seconds(5));
  client->close();
  return outcome;
}

NativeClientTls client_tls(const TestPki& pki, const std::string& ca, const std::string& name, const std::string& server_name = "") {
  auto material = load_tls_material(pki.files(ca, name));
  TlsMaterial m = *material;
  m.server_name = server_name;
  return native_client_tls(&m, "test client");
}

}  // namespace

TEST_CASE("tls: the native broker protocol over mutual TLS: a client of its CA is served; plaintext, no certificate, "
          "another CA's certificate and a wrong name are refused, that connection only") {
  TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  BrokerServerOptions o;
  o.tls = pki.identity("ca.pem", "node");
  BrokerServer server(o);
  CHECK(server.tls());
  CHECK(server.url().rfind("tcps://127.0.0.1:", 0) == 0);
  const std::string address = server.address();

  CHECK(native_ping(address, client_tls(pki, "ca.pem", "client")) == "");
  CHECK(native_ping(server.url(), client_tls(pki, "ca.pem", "client", "localhost")) == "");
  // Plaintext: the server's handshake fails on the first bytes, the connection closes.
  CHECK(native_ping(address, {}) != "");
  // No certificate: the server requires one.
  TlsMaterial anonymous = *pki.identity("ca.pem", "client");
  anonymous.cert_pem.clear();
  anonymous.key_pem.clear();
  CHECK(native_ping(address, native_client_tls(&anonymous, "anonymous")) != "");
  // A certificate of another CA.
  CHECK(native_ping(address, client_tls(pki, "ca.pem", "stranger")) != "");
  // The client's own check: a server that does not carry the expected name, or chains to another CA.
  CHECK(native_ping(address, client_tls(pki, "ca.pem", "client", "broker.example")).find("TLS handshake") != std::string::npos);
  CHECK(native_ping(address, client_tls(pki, "other-ca.pem", "client")).find("TLS handshake") != std::string::npos);
  // The server kept serving, and counted the connections it refused at the handshake.
  CHECK(native_ping(address, client_tls(pki, "ca.pem", "client")) == "");
  CHECK(server.stats().native.closed_handshake >= 3);
  // Every connection closed, the refused ones included (the last close may still be on its way).
  for (int i = 0; i < 100 && server.stats().native.connections_open != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(server.stats().native.connections_open == 0);

  // A TLS client of a plaintext broker fails at the handshake, with the reason.
  BrokerServer plain(BrokerServerOptions{});
  CHECK_FALSE(plain.tls());
  CHECK(native_ping(plain.address(), client_tls(pki, "ca.pem", "client")).find("TLS handshake") != std::string::npos);
  CHECK(native_ping(plain.address(), {}) == "");
}

TEST_CASE("tls: a silent client is cut off at the TLS handshake deadline") {
  TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  Broker broker{BrokerOptions{}};
  NativeServerOptions o;
  o.tls = pki.identity("ca.pem", "node");
  o.handshake_timeout_ns = 200 * kNanosPerMilli;
  NativeServer server(broker, o);
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
  char byte;
  std::optional<boost::system::error_code> closed;  // the read's end: the server closed the connection
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration took{};
  socket.async_read_some(boost::asio::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t) {
    closed = ec;
    took = std::chrono::steady_clock::now() - start;
  });
  io.run_for(std::chrono::seconds(5));
  REQUIRE(closed.has_value());
  CHECK(*closed);                                        // EOF or reset, no bytes
  CHECK(took >= std::chrono::milliseconds(150));         // not at once: at the deadline
  CHECK(server.stats().closed_handshake == 1);
}

TEST_CASE("tls: past max_connections a TLS client is closed before its handshake; the others are served") {
  TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  BrokerServerOptions o;
  o.tls = pki.identity("ca.pem", "node");
  o.max_connections = 1;
  BrokerServer server(o);
  const auto port = static_cast<std::uint16_t>(std::stoi(server.address().substr(server.address().rfind(':') + 1)));
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket holder(io), extra(io);  // the first holds the one slot, silent
  holder.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  for (int i = 0; i < 100 && server.stats().native.connections_open < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  extra.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  char byte;
  std::optional<boost::system::error_code> closed;
  extra.async_read_some(boost::asio::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t) { closed = ec; });
  io.run_for(std::chrono::seconds(3));
  REQUIRE(closed.has_value());
  CHECK(*closed);
  CHECK(server.stats().native.closed_over_limit == 1);
  holder.close();
  for (int i = 0; i < 100 && server.stats().native.connections_open != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(native_ping(server.address(), client_tls(pki, "ca.pem", "client")) == "");
}

TEST_CASE("tls: the embedded mq backend over tcps://: 200 requests answered once each; tcps:// without files refused with the reason") {
  TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  BrokerServerOptions o;
  o.tls = pki.identity("ca.pem", "node");
  BrokerServer server(o);
  mq::Endpoint e;
  e.kind = "embedded";
  e.url = server.url();
  e.timeout_ns = 3 * kNanosPerSecond;
  e.tls = pki.files("ca.pem", "node");
  auto responder = mq::make_embedded_responder(
      e, 2, [](int) { return [](std::string_view body) { return "echo:" + std::string(body); }; }, "worker-0");

  boost::asio::io_context io;
  std::map<std::uint64_t, std::vector<std::string>> replies;
  mq::Endpoint client = e;
  client.tls = pki.files("ca.pem", "client");
  auto requester = mq::make_embedded_requester(
      client, io,
      [&](std::uint64_t id, Outcome outcome, std::string_view body) {
        replies[id].push_back(outcome == Outcome::ok ? std::string(body) : "failed");
      },
      0);
  std::string started = "not yet";
  requester->start([&](std::string error) { started = std::move(error); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (started == "not yet" && std::chrono::steady_clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(50));
  REQUIRE(started == "");
  for (std::uint64_t id = 1; id <= 200; ++id) requester->request(id, fmt::format("m{}", id));
  while (replies.size() < 200 && std::chrono::steady_clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(50));
  REQUIRE(replies.size() == 200);
  for (auto& [id, got] : replies) {
    CAPTURE(id);
    REQUIRE(got.size() == 1);
    CHECK(got[0] == fmt::format("echo:m{}", id));
  }
  requester->stop();
  responder->stop();

  // tcps:// with no files: said before connecting. A plaintext tcp:// client of a TLS broker: refused.
  mq::Endpoint bare = e;
  bare.tls = {};
  CHECK_THROWS_WITH_AS(mq::make_embedded_responder(bare, 1, [](int) { return [](std::string_view) { return std::string(); }; }, "w"),
                       doctest::Contains("TLS needs ca, cert and key"), std::runtime_error);
  bare.url = "tcp://" + server.address();
  boost::asio::io_context io2;
  auto plain = mq::make_embedded_requester(bare, io2, [](std::uint64_t, Outcome, std::string_view) {}, 1);
  std::string plain_start = "not yet";
  plain->start([&](std::string error) { plain_start = std::move(error); });
  io2.run_for(std::chrono::seconds(5));
  CHECK(plain_start != "not yet");
  CHECK(plain_start != "");
}

TEST_CASE("tls: pathbench serve broker --tls-* serves tcps://, https /api/* (checked with curl) and refuses plaintext") {
  TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  if (std::system("command -v curl >/dev/null 2>&1") != 0) {
    MESSAGE("SKIP: curl is not installed (Debian package curl)");
    return;
  }
  TempDir dir;
  const std::string log = (dir / "serve.log").string();
  const std::string command = fmt::format(
      "'{}' serve broker --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 --tls-ca '{}' "
      "--tls-cert '{}' --tls-key '{}' >'{}' 2>&1 & echo $!",
      PATHBENCH_BINARY, (pki / "ca.pem").string(), (pki / "node.pem").string(), (pki / "node.key").string(), log);
  const auto started = testing::run_command(command);
  const int pid = std::stoi(started.output);
  struct Stop {
    int pid;
    ~Stop() { (void)std::system(fmt::format("kill -TERM {0} 2>/dev/null; for i in $(seq 50); do kill -0 {0} 2>/dev/null || break; sleep 0.1; done", pid).c_str()); }
  } stop{pid};
  std::string out;
  for (int i = 0; i < 100 && out.find("WebSocket /ws/*") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    out = testing::read_file(log);
  }
  CAPTURE(out);
  REQUIRE(out.find("tcps://127.0.0.1:") != std::string::npos);
  CHECK(out.find("mutual TLS") != std::string::npos);
  const auto native_at = out.find("tcps://127.0.0.1:") + 7;
  const std::string native = out.substr(native_at, out.find(' ', native_at) - native_at);
  const auto http_at = out.rfind("127.0.0.1:");
  const std::string http = out.substr(http_at, out.find('\n', http_at) - http_at);

  CHECK(native_ping(native, client_tls(pki, "ca.pem", "client")) == "");
  CHECK(native_ping(native, {}) != "");
  const std::string curl = fmt::format("curl -sS --max-time 5 --cacert '{}' ", (pki / "ca.pem").string());
  const std::string identity = fmt::format("--cert '{}' --key '{}' ", (pki / "client.pem").string(), (pki / "client.key").string());
  auto subscribed = testing::run_command(curl + identity + "-H 'Content-Type: application/json' -d '{\"subject\":\"s\"}' https://" +
                                         http + "/api/subscribe");
  CAPTURE(subscribed.output);
  CHECK(subscribed.exit_code == 0);
  CHECK(subscribed.output.find("\"subject\":\"s\"") != std::string::npos);
  auto published = testing::run_command(curl + identity + "-H 'Content-Type: application/json' -d '{\"subject\":\"s\",\"data\":\"x\"}' https://" +
                                        http + "/api/publish");
  CHECK(published.output.find("\"status\":\"ok\"") != std::string::npos);
  auto no_cert = testing::run_command(curl + "-d '{}' https://" + http + "/api/subscribe");
  CHECK(no_cert.exit_code != 0);
  auto plaintext = testing::run_command("curl -sS --max-time 5 -d '{}' http://" + http + "/api/subscribe");
  CHECK(plaintext.exit_code != 0);
}

TEST_CASE("tls: pathbench run with [tls]: the queue path over the in-process embedded broker and the broker path's fronts "
          "over mutual TLS, accounting holds") {
  TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  TempDir dir;
  std::string paths;
  for (const char* via : {"native", "grpc_unary", "grpc_stream", "websocket", "http"})
    paths += fmt::format("[[path]]\nkind = \"broker\"\nvia = \"{}\"\n", via);
  testing::write_file(dir / "broker_tls.toml",
                      testing::short_run_scenario("broker_tls", dir / "sales.db", "[[path]]\nkind = \"queue\"\nvia = \"embedded\"\n" + paths +
                                                                                     pki.scenario_table()));
  auto r = testing::run_pathbench("run '" + (dir / "broker_tls.toml").string() + "' --out '" + (dir / "out").string() + "' --no-charts");
  CAPTURE(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("accounting holds") != std::string::npos);
  for (const char* url : {"tcps://127.0.0.1:", "wss://127.0.0.1:", "https://127.0.0.1:"}) CHECK(r.output.find(url) != std::string::npos);
  const std::string summary = testing::read_file(dir / "out" / "summary.csv");
  CAPTURE(summary);
  for (const char* label : {"queue_embedded", "broker_native", "broker_grpc_unary", "broker_grpc_stream", "broker_websocket", "broker_http"}) {
    CAPTURE(label);
    const std::string ok = testing::summary_cell(summary, label, "ok");
    REQUIRE_FALSE(ok.empty());
    CHECK(std::stoll(ok) > 0);
    CHECK(testing::summary_cell(summary, label, "accounting_ok") == "true");
  }
  CHECK(testing::read_file(dir / "out" / "context.json").find("PRIVATE KEY") == std::string::npos);
}
