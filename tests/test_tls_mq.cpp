// TLS on the broker links (docs/distributed.md, "TLS and authentication"): NATS over mutual TLS
// against a private nats-server started with --tls --tlsverify (mq::BrokerOptions::tls), RabbitMQ
// over AMQPS against a private rabbitmq-server with an ssl listener, and the URL rules. The test PKI
// is made at test time (tests/make_test_certs.sh); the cases skip with the reason when the openssl
// command or the server is missing.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdlib>

#include "mq/mq.h"
#include "mq/server_process.h"
#include "paths/registry.h"
#include "realmq_drive.h"
#include "scenario/loader.h"
#include "skip_guard.h"
#include "test_helpers.h"
#include "test_pki.h"

using namespace pathbench;
using namespace pathbench::mq;
using namespace pathbench::testing::realmq;
using pathbench::testing::TempDir;

namespace {


// A private nats-server that accepts only TLS clients presenting a certificate of the test CA.
BrokerProcess start_tls_nats(const testing::TestPki& pki) {
  BrokerOptions o;
  o.tls = pki.files("ca.pem", "node");
  return BrokerProcess::start("nats", o);
}

Endpoint nats_endpoint(const std::string& url, const std::string& queue) {
  Endpoint e;
  e.kind = "nats";
  e.url = url;
  e.request_queue = queue;
  e.timeout_ns = 3 * kNanosPerSecond;
  return e;
}

}  // namespace

TEST_SUITE_BEGIN("realmq");

TEST_CASE("realmq: nats over mutual TLS: 500 echoes answered once each; no cert, another CA or plaintext refused with the reason") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("nats");
  testing::TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  BrokerProcess server = start_tls_nats(pki);
  Endpoint e = nats_endpoint(server.url(), "pathbench.test.tls");
  e.tls = pki.files("ca.pem", "client");
  auto responder = make_responder_for(e, 2, echo_handlers());
  Drive d = drive(e, 500, 32, 20 * kNanosPerSecond);
  REQUIRE(d.start_error == "");
  CHECK(d.answered == 500);
  CHECK(d.count(Outcome::ok) == 500);
  CHECK(d.duplicates == 0);
  CHECK(responder->stats().replied == 500);

  // The same over a tls:// URL, the name checked (localhost is in node.pem).
  Endpoint named = e;
  named.url = "tls://localhost:" + server.url().substr(server.url().rfind(':') + 1);
  CHECK(drive(named, 20, 4, 10 * kNanosPerSecond).count(Outcome::ok) == 20);
  Endpoint misnamed = e;
  misnamed.tls.server_name = "not-the-broker.example";
  CHECK_THROWS_AS(make_responder_for(misnamed, 1, echo_handlers()), std::runtime_error);

  // No certificate: the server's --tlsverify refuses the handshake.
  Endpoint no_cert = e;
  no_cert.tls.cert.clear();
  no_cert.tls.key.clear();
  CHECK_THROWS_WITH_AS(make_responder_for(no_cert, 1, echo_handlers()), doctest::Contains("nats at"), std::runtime_error);
  Drive refused = drive(no_cert, 1, 1, 5 * kNanosPerSecond);
  CAPTURE(refused.start_error);
  CHECK(refused.start_error.find("nats at") != std::string::npos);
  CHECK(refused.issued == 0);

  // A certificate from another CA; and the server checked against another CA.
  Endpoint stranger = e;
  stranger.tls = pki.files("ca.pem", "stranger");
  CHECK_THROWS_AS(make_responder_for(stranger, 1, echo_handlers()), std::runtime_error);
  Endpoint wrong_ca = e;
  wrong_ca.tls.ca = pki / "other-ca.pem";
  CHECK_THROWS_AS(make_responder_for(wrong_ca, 1, echo_handlers()), std::runtime_error);

  // Plaintext to a TLS-only server.
  Endpoint plain = e;
  plain.tls = {};
  CHECK_THROWS_AS(make_responder_for(plain, 1, echo_handlers()), std::runtime_error);

  // An unreadable file is named.
  Endpoint missing = e;
  missing.tls.ca = pki / "nowhere.pem";
  CHECK_THROWS_WITH_AS(make_responder_for(missing, 1, echo_handlers()), doctest::Contains("TLS CA file"), std::runtime_error);
}

TEST_CASE("realmq: pathbench run: a queue path over NATS with [tls.broker], accounting holds; without it the run fails") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("nats");
  testing::TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  BrokerProcess server = start_tls_nats(pki);
  TempDir dir;
  auto scenario = [&](const std::string& name, const std::string& tls) {
    return fmt::format(R"(name = "{0}"
[load]
rate_per_s = 200
threads = 1
duration = "1s"
warmup = "200ms"
deadline = "1s"
[database]
path = "{1}"
sales = 2000
[query]
mix = {{ echo = 1, point = 1 }}
[workers]
count = 1
threads = 2
[broker]
kind = "nats"
url = "{2}"
[[path]]
kind = "queue"
via = "nats"
{3})",
                       name, (dir / "sales.db").string(), server.url(), tls);
  };
  testing::write_file(dir / "tls.toml",
                      scenario("nats_tls", fmt::format("[tls]\nca = \"{0}\"\ncert = \"{1}\"\nkey = \"{2}\"\n[tls.worker]\ncert = \"{3}\"\n"
                                                       "key = \"{4}\"\n[tls.broker]\ncert = \"{1}\"\nkey = \"{2}\"\n",
                                                       (pki / "ca.pem").string(), (pki / "client.pem").string(), (pki / "client.key").string(), (pki / "node.pem").string(),
                                                       (pki / "node.key").string())));
  auto r = testing::run_pathbench("run '" + (dir / "tls.toml").string() + "' --out '" + (dir / "out").string() + "' --no-charts");
  CAPTURE(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("queue_nats: issued") != std::string::npos);
  CHECK(r.output.find("accounting holds") != std::string::npos);
  const std::string context = testing::read_file(dir / "out" / "context.json");
  CHECK(context.find("PRIVATE KEY") == std::string::npos);

  // [tls.broker] written with only a cert: the scenario is refused before anything starts.
  testing::write_file(dir / "half.toml", scenario("nats_half", fmt::format("[tls]\n[tls.broker]\ncert = \"{}\"\n", (pki / "client.pem").string())));
  auto half = testing::run_pathbench("validate '" + (dir / "half.toml").string() + "'");
  CAPTURE(half.output);
  CHECK(half.exit_code == 2);
  CHECK(half.output.find("missing:") != std::string::npos);

  // No [tls]: the plaintext client is refused by the TLS-only server and the run says so.
  testing::write_file(dir / "plain.toml", scenario("nats_plain", ""));
  auto plain = testing::run_pathbench("run '" + (dir / "plain.toml").string() + "' --out '" + (dir / "out2").string() + "' --no-charts");
  CAPTURE(plain.output);
  CHECK(plain.exit_code != 0);
  CHECK(plain.output.find("nats at") != std::string::npos);
}

TEST_CASE("realmq: rabbitmq over AMQPS with mutual TLS: 300 echoes answered once each; no cert or another CA refused") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("rabbitmq");
  testing::TestPki pki;
  PATHBENCH_SKIP_WHEN(pki.why);
  BrokerOptions o;
  o.tls = pki.files("ca.pem", "node");
  BrokerProcess server = BrokerProcess::start("rabbitmq", o);
  REQUIRE(server.url().rfind("amqps://", 0) == 0);
  Endpoint e;
  e.kind = "rabbitmq";
  e.url = server.url();
  e.request_queue = "pathbench.test.amqps";
  e.timeout_ns = 5 * kNanosPerSecond;
  e.tls = pki.files("ca.pem", "client");
  auto responder = make_responder_for(e, 2, echo_handlers());
  Drive d = drive(e, 300, 16, 20 * kNanosPerSecond);
  REQUIRE(d.start_error == "");
  CHECK(d.answered == 300);
  CHECK(d.count(Outcome::ok) == 300);
  CHECK(d.duplicates == 0);

  Endpoint no_cert = e;
  no_cert.tls.cert.clear();
  no_cert.tls.key.clear();
  CHECK_THROWS_WITH_AS(make_responder_for(no_cert, 1, echo_handlers()), doctest::Contains("rabbitmq at"), std::runtime_error);
  Endpoint wrong_ca = e;
  wrong_ca.tls.ca = pki / "other-ca.pem";
  CHECK_THROWS_WITH_AS(make_responder_for(wrong_ca, 1, echo_handlers()), doctest::Contains("rabbitmq at"), std::runtime_error);
  Endpoint stranger = e;
  stranger.tls = pki.files("ca.pem", "stranger");
  CHECK_THROWS_AS(make_responder_for(stranger, 1, echo_handlers()), std::runtime_error);
}

TEST_SUITE_END();

TEST_CASE("tls: amqps:// and tcps:// URLs: accepted by [broker] url with a CA in [tls], refused without one at the URL") {
  auto broker = [](const std::string& kind, const std::string& url) {
    return fmt::format("[broker]\nkind = \"{0}\"\nurl = \"{1}\"\n[[path]]\nkind = \"queue\"\nvia = \"{0}\"\n", kind, url);
  };
  TempDir dir;  // the loader checks the files readable; their contents are read when the run starts
  for (const char* file : {"ca.pem", "me.pem", "me.key"}) testing::write_file(dir / file, "PEM\n");
  const std::string tls = fmt::format("[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n", (dir / "ca.pem").string(),
                                      (dir / "me.pem").string(), (dir / "me.key").string());
  CHECK_NOTHROW(load_scenario_text(broker("rabbitmq", "amqps://u:p@broker.example:5671/") + tls, "<t>"));
  CHECK_NOTHROW(load_scenario_text(broker("embedded", "tcps://10.0.0.5:5673") + tls, "<t>"));
  CHECK_THROWS_WITH_AS(load_scenario_text(broker("rabbitmq", "amqps://u:p@broker.example:5671/"), "<t>"),
                       doctest::Contains("<t>:3:7: broker.url: amqps:// needs the CA the broker must chain to"), ScenarioError);
  CHECK_THROWS_WITH_AS(load_scenario_text(broker("embedded", "tcps://10.0.0.5:5673"), "<t>"),
                       doctest::Contains("<t>:3:7: broker.url: tcps:// (the embedded broker over mutual TLS) needs"), ScenarioError);
  CHECK_THROWS_WITH_AS(load_scenario_text(broker("embedded", "tls://10.0.0.5:5673"), "<t>"),
                       doctest::Contains("tcp://host:port (tcps:// over TLS)"), ScenarioError);
  CHECK_NOTHROW(load_scenario_text(broker("nats", "tls://127.0.0.1:4222"), "<t>"));
  CHECK_THROWS_WITH_AS(load_scenario_text(broker("rabbitmq", "amqpx://u:p@broker.example/"), "<t>"),
                       doctest::Contains("amqp://user:pass@host:port/vhost"), ScenarioError);
  CHECK_THROWS_WITH_AS(load_scenario_text(broker("nats", "amqps://u:p@broker.example/"), "<t>"),
                       doctest::Contains("nats://host:port"), ScenarioError);
  Endpoint e;
  e.kind = "rabbitmq";
  e.url = "amqps://guest:guest@127.0.0.1:1";
  e.timeout_ns = kNanosPerSecond;
  CHECK_THROWS_WITH_AS(make_rabbitmq_responder(e, 1, echo_handlers(), "t"), doctest::Contains("needs a CA"), std::runtime_error);
}
