// The broker's seed fronts (broker/fronts.h) in-process, each through a real client of its wire:
// gRPC MessageQueue (a generated stub), WebSocket /ws/* (net::ws_connect), HTTP /api/* (Beast).
// The independent clients (Python grpcio and websockets, curl) are in tests/python/ and
// tests/broker_http_curl.sh.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <deque>
#include <fmt/format.h>

#include <future>
#include <optional>
#include <thread>

#include "broker/broker_server.h"
#include "broker/api_json.h"
#include "measure/cpu.h"
#include "messagequeue.grpc.pb.h"
#include "net/websocket.h"
#include "paths/registry.h"
#include "runner/topology.h"
#include "scenario/loader.h"

using namespace pathbench;
using namespace pathbench::broker;
namespace http = boost::beast::http;

namespace {

BrokerServerOptions all_fronts(int max_pending = 10000) {
  BrokerServerOptions o;
  o.max_pending = max_pending;
  o.grpc_listen = "127.0.0.1:0";
  o.http_listen = "127.0.0.1:0";
  return o;
}

struct HttpReply {
  unsigned status = 0;
  std::string body;
  std::string allow;
};

HttpReply http_call(const std::string& address, http::verb verb, const std::string& target, const std::string& body) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  const auto colon = address.rfind(':');
  socket.connect({boost::asio::ip::make_address(address.substr(0, colon)),
                  static_cast<unsigned short>(std::stoi(address.substr(colon + 1)))});
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, address);
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return {res.result_int(), res.body(), std::string(res[http::field::allow])};
}

HttpReply post(const std::string& address, const std::string& target, const std::string& body) {
  return http_call(address, http::verb::post, target, body);
}

// A blocking WebSocket client on its own io thread: (payload, binary) of each message.
class WsClient {
 public:
  WsClient(const std::string& address, const std::string& target) {
    thread_ = std::thread([this] { io_.run(); });
    std::promise<std::string> connected;
    net::ws_connect(
        io_, address, target, {},
        {[this](const std::shared_ptr<net::WsChannel>&, std::string_view payload, bool binary) {
           std::lock_guard lock(mutex_);
           messages_.emplace_back(std::string(payload), binary);
           cv_.notify_all();
         },
         [](const std::shared_ptr<net::WsChannel>&, const std::string&) {}},
        [this, &connected](std::shared_ptr<net::WsChannel> channel, std::string error) {
          channel_ = std::move(channel);
          connected.set_value(error);
        });
    REQUIRE(connected.get_future().get() == "");
  }
  ~WsClient() {
    if (channel_) channel_->abort();
    work_.reset();
    thread_.join();
  }
  std::pair<std::string, bool> ask(std::string payload, bool binary = true) {
    channel_->send(std::move(payload), binary);
    std::unique_lock lock(mutex_);
    REQUIRE(cv_.wait_for(lock, std::chrono::seconds(5), [&] { return !messages_.empty(); }));
    auto m = messages_.front();
    messages_.pop_front();
    return m;
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  std::shared_ptr<net::WsChannel> channel_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, bool>> messages_;
};

std::unique_ptr<v1::MessageQueue::Stub> stub_for(const BrokerServer& server) {
  return v1::MessageQueue::NewStub(grpc::CreateChannel(server.grpc_address(), grpc::InsecureChannelCredentials()));
}

}  // namespace

TEST_CASE("api json: strict parsing of flat objects, with the reason on failure") {
  ApiJson o;
  CHECK(parse_api_object(R"( {"subject":"a\"b\u00e9\ud83d\ude00","n":-1.5e3,"t":true,"z":null} )", o) == "");
  REQUIRE(o.size() == 4);
  CHECK(o["subject"] == "a\"b\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(o["n"].is_number());
  CHECK(o["n"].get<double>() == -1500.0);
  CHECK(o["t"].is_boolean());
  CHECK(o["z"].is_null());
  CHECK(o.begin().key() == "subject");  // document order
  CHECK(parse_api_object("{}", o) == "");
  CHECK(parse_api_object("", o) == "end of input: expected '{'");
  CHECK(parse_api_object("[1]", o) == "byte 0: expected '{'");
  CHECK(parse_api_object("  7", o) == "byte 2: expected '{'");
  CHECK(parse_api_object(R"({"a":1,})", o) == "byte 7: expected a string key");
  CHECK(parse_api_object(R"({"a" 1})", o) == "byte 5: expected ':'");
  CHECK(parse_api_object(R"({"a":})", o) == "byte 5: expected a value");
  CHECK(parse_api_object(R"({"a":1)", o) == "end of input: expected ',' or '}'");
  CHECK(parse_api_object(R"({"a":1,)", o) == "end of input: expected a string key");
  CHECK(parse_api_object(R"({"a":1} x)", o) == "byte 8: trailing bytes after the object");
  CHECK(parse_api_object(R"({"a":1} {})", o) == "byte 8: trailing bytes after the object");
  CHECK(parse_api_object(R"({"a":1,"a":2})", o) == "byte 10: duplicate key \"a\"");
  CHECK(parse_api_object(R"({"a":{"b":1}})", o) == "byte 5: nested objects and arrays are not accepted here");
  CHECK(parse_api_object(R"({"a":[1]})", o) == "byte 5: nested objects and arrays are not accepted here");
  CHECK(parse_api_object(R"({"a":01})", o) == "byte 6: expected ',' or '}'");
  // Malformed tokens: nlohmann's reason, where it stopped, and never the bytes it read.
  CHECK(parse_api_object(R"({"a":"\ud800"})", o).starts_with("byte 12: invalid string: surrogate"));
  CHECK(parse_api_object("{\"a\":\"x\ny\"}", o).starts_with("byte 7: invalid string: control character U+000A"));
  CHECK(parse_api_object(R"({"a":"\q"})", o).starts_with("byte 7: invalid string: forbidden character after backslash"));
  CHECK(parse_api_object("{\"a\":\"\xff\"}", o) == "byte 6: invalid string: ill-formed UTF-8 byte");
  CHECK(parse_api_object(R"({"a":"x)", o) == "end of input: invalid string: missing closing quote");
  CHECK(dump_api_json(ApiJson{{"q", std::string("q\"\\\n\x01z")}}) == R"({"q":"q\"\\\n\u0001z"})");
  CHECK(dump_api_json(ApiJson{{"b", std::string("caf\xc3\xa9 \xff")}}) == "{\"b\":\"caf\xc3\xa9 \xef\xbf\xbd\"}");
}

TEST_CASE("broker gRPC front: Produce/Consume round trips, queue empty, named queues, overflow reported") {
  BrokerServer server(all_fronts(2));
  auto stub = stub_for(server);
  auto produce = [&](const std::string& payload, const std::string& queue = "") {
    grpc::ClientContext ctx;
    v1::ProduceRequest req;
    req.set_payload(payload);
    req.set_queue(queue);
    v1::ProduceResponse res;
    REQUIRE(stub->Produce(&ctx, req, &res).ok());
    return res;
  };
  auto consume = [&](const std::string& queue = "") {
    grpc::ClientContext ctx;
    v1::ConsumeRequest req;
    req.set_queue(queue);
    v1::ConsumeResponse res;
    REQUIRE(stub->Consume(&ctx, req, &res).ok());
    return res;
  };
  CHECK(produce("one").success());
  CHECK(produce("two").success());
  auto refused = produce("three");  // "default" holds max_pending = 2
  CHECK_FALSE(refused.success());
  CHECK(refused.error() == "broker overflow");
  CHECK(produce("elsewhere", "other").success());  // declared on first use
  CHECK(consume().payload() == "one");
  CHECK(consume().payload() == "two");
  auto empty = consume();
  CHECK(empty.payload().empty());
  CHECK(empty.error() == "queue empty");
  CHECK(consume("other").payload() == "elsewhere");
  CHECK(consume("never-used").error() == "queue empty");
  QueueStats stats;
  REQUIRE(server.broker().queue_stats("default", stats) == Status::ok);
  CHECK(stats.rejected == 1);
  CHECK(stats.enqueued == 2);
}

TEST_CASE("broker gRPC front: StreamMessages answers each message with the next one, in order") {
  BrokerServer server(all_fronts(1));
  auto stub = stub_for(server);
  grpc::ClientContext ctx;
  auto stream = stub->StreamMessages(&ctx);
  v1::StreamMessage in, out;
  in.set_queue("s");
  in.set_payload("a");
  REQUIRE(stream->Write(in));
  REQUIRE(stream->Read(&out));
  CHECK(out.payload() == "a");
  CHECK(out.error() == "");
  CHECK(out.queue() == "s");
  in.clear_payload();  // a plain "next": nothing enqueued
  REQUIRE(stream->Write(in));
  REQUIRE(stream->Read(&out));
  CHECK(out.error() == "queue empty");
  // Overflow: fill "s" (max_pending 1) through Produce, then a stream message is refused and
  // nothing is dequeued.
  {
    grpc::ClientContext c;
    v1::ProduceRequest r;
    r.set_payload("held");
    r.set_queue("s");
    v1::ProduceResponse res;
    REQUIRE(stub->Produce(&c, r, &res).ok());
    REQUIRE(res.success());
  }
  in.set_payload("b");
  REQUIRE(stream->Write(in));
  REQUIRE(stream->Read(&out));
  CHECK(out.error() == "broker overflow");
  CHECK(out.payload().empty());
  in.clear_payload();
  REQUIRE(stream->Write(in));
  REQUIRE(stream->Read(&out));
  CHECK(out.payload() == "held");
  stream->WritesDone();
  CHECK(stream->Finish().ok());
}

TEST_CASE("broker WebSocket front: /ws/publish answers ok, /ws/consume returns binary or queue empty") {
  BrokerServer server(all_fronts(2));
  WsClient publish(server.http_address(), "/ws/publish");
  WsClient consume(server.http_address(), "/ws/consume");
  WsClient publish_q(server.http_address(), "/ws/publish?queue=q%2D1");
  WsClient consume_q(server.http_address(), "/ws/consume?queue=q-1");
  CHECK(publish.ask("m1") == std::pair<std::string, bool>{"ok", false});
  CHECK(publish.ask("m2", false) == std::pair<std::string, bool>{"ok", false});
  CHECK(publish.ask("m3") == std::pair<std::string, bool>{"error: broker overflow", false});
  CHECK(publish_q.ask("q") == std::pair<std::string, bool>{"ok", false});
  CHECK(consume.ask("next") == std::pair<std::string, bool>{"m1", true});
  CHECK(consume.ask("anything") == std::pair<std::string, bool>{"m2", true});
  CHECK(consume.ask("next") == std::pair<std::string, bool>{"error: queue empty", false});
  CHECK(consume_q.ask("next") == std::pair<std::string, bool>{"q", true});
  // A plain HTTP request to a WebSocket endpoint: 426.
  CHECK(http_call(server.http_address(), http::verb::get, "/ws/publish", "").status == 426);
}

TEST_CASE("broker HTTP front: GopherMQ's /api/* with JSON replies and status codes") {
  BrokerServer server(all_fronts(2));
  const std::string a = server.http_address();
  auto r = post(a, "/api/publish", R"({"subject":"news","data":"x"})");
  CHECK(r.status == 404);
  CHECK(r.body == "{\"message\":\"subscriber not found\"}\n");
  r = post(a, "/api/subscribe", R"({"subject":"news"})");
  CHECK(r.status == 200);
  CHECK(r.body == "{\"id\":\"1\",\"subject\":\"news\"}\n");
  r = post(a, "/api/publish", R"({"subject":"news","data":"hello \"world\""})");
  CHECK(r.status == 200);
  CHECK(r.body == "{\"status\":\"ok\"}\n");
  r = post(a, "/api/publish/async", R"({"subject":"news","data":"second"})");
  CHECK(r.status == 200);
  CHECK(r.body == "{\"status\":\"ok\"}\n");
  r = post(a, "/api/publish", R"({"subject":"news","data":"third"})");
  CHECK(r.status == 507);
  CHECK(r.body == "{\"message\":\"broker overflow\"}\n");
  r = post(a, "/api/fetch", R"({"subject":"news","id":"1"})");
  CHECK(r.status == 200);
  CHECK(r.body == "{\"subject\":\"news\",\"id\":\"1\",\"data\":[\"hello \\\"world\\\"\",\"second\"]}\n");
  r = post(a, "/api/fetch", R"({"subject":"news","id":"1"})");  // drained
  CHECK(r.body == "{\"subject\":\"news\",\"id\":\"1\",\"data\":[]}\n");
  r = post(a, "/api/fetch", R"({"subject":"news","id":"7"})");
  CHECK(r.status == 404);
  CHECK(r.body == "{\"message\":\"subscriber not found\"}\n");
  CHECK(post(a, "/api/fetch", R"({"subject":"news","id":"abc"})").status == 404);
  r = post(a, "/api/fetch", R"({"subject":"news"})");
  CHECK(r.status == 400);
  CHECK(r.body == "{\"message\":\"missing field \\\"id\\\"\"}\n");
  r = post(a, "/api/publish", R"({"subject":"news","data":1})");
  CHECK(r.status == 400);
  CHECK(r.body == "{\"message\":\"field \\\"data\\\" must be a string\"}\n");
  r = post(a, "/api/publish", R"({"subject":"news",)");
  CHECK(r.status == 400);
  CHECK(r.body == "{\"message\":\"bad json: end of input: expected a string key\"}\n");
  r = http_call(a, http::verb::get, "/api/fetch", "");
  CHECK(r.status == 405);
  CHECK(r.allow == "POST");
  CHECK(r.body == "{\"message\":\"method not allowed\"}\n");
  r = post(a, "/api/nope", "{}");
  CHECK(r.status == 404);
  CHECK(r.body == "{\"message\":\"not found\"}\n");
}

TEST_CASE("broker server: fronts off by default; broker threads form their own CPU group") {
  BrokerServer server(BrokerServerOptions{});
  CHECK(server.grpc_address().empty());
  CHECK(server.http_address().empty());
  QueueStats stats;
  CHECK(server.broker().queue_stats("default", stats) == Status::ok);
  CHECK(cpu_group_of("pb-broker") == CpuGroup::broker);
  CHECK(cpu_group_of("pb-broker-http") == CpuGroup::broker);
  CHECK(kCpuGroupNames[static_cast<std::size_t>(CpuGroup::broker)] == "broker");
}

namespace {

// Records each completion; the broker path's clients call it on the io thread.
struct RecordingSink final : CompletionSink {
  void complete(std::uint32_t slot, std::uint64_t id, Outcome outcome, const Hops*) noexcept override {
    done.push_back({slot, id, outcome});
  }
  struct Done {
    std::uint32_t slot;
    std::uint64_t id;
    Outcome outcome;
  };
  std::vector<Done> done;
};

}  // namespace

TEST_CASE("broker path: a publish the broker refuses completes as rejected, through every front") {
  Scenario s = load_scenario_text("[load]\nmode = \"closed\"\nconcurrency = 1\n[[path]]\nkind = \"broker\"\n", "rejected.toml");
  Topology topology(s);
  Broker& broker = topology.broker_server().broker();
  for (auto& route : routes_of("broker")) {
    const std::string_view via = route.via;
    CAPTURE(via);
    PathSpec spec = s.paths[0];
    spec.via = std::string(via);
    spec.label = fmt::format("rejected_{}", via);
    const std::string queue = fmt::format("bench-{}-0", spec.label);
    auto instance = route.create(s, spec, topology);
    boost::asio::io_context io;
    RecordingSink sink;
    auto client = instance->make_client(io, sink, 0);
    std::optional<std::string> started;
    client->start([&](std::string error) { started = std::move(error); });
    // Completions are posted from gRPC's threads: keep the io_context waiting for them.
    auto guard = boost::asio::make_work_guard(io);
    auto run_a_little = [&io] { io.run_for(std::chrono::milliseconds(10)); };
    for (int i = 0; i < 500 && !started; ++i) run_a_little();
    REQUIRE(started == std::string());
    // Full: the thread's subject subscriber list, or its queue paused (nothing consumed) and filled.
    const int max_pending = broker.default_max_pending();
    Message filler;
    filler.body = "filler";
    if (via == "http") {
      for (int i = 0; i < max_pending; ++i) REQUIRE(broker.publish_subject(queue, filler) == Status::ok);
    } else {
      REQUIRE(broker.declare(queue) == Status::ok);
      REQUIRE(broker.set_paused(queue, true) == Status::ok);
      for (int i = 0; i < max_pending; ++i) REQUIRE(broker.publish(queue, filler) == Status::ok);
    }
    client->issue(3, 7, Query{});
    for (int i = 0; i < 500 && sink.done.empty(); ++i) run_a_little();
    REQUIRE(sink.done.size() == 1);
    CHECK(sink.done[0].slot == 3);
    CHECK(sink.done[0].id == 7);
    CHECK(sink.done[0].outcome == Outcome::rejected);
    client->stop();
    io.run_for(std::chrono::milliseconds(300));
    client.reset();
  }
}
