// The native protocol: codec known answers and every decode error; the server over loopback with
// bad input on one connection while another keeps working; the embedded mq backend (requester +
// responders) round trips, redelivery when a responder dies mid-flight, overflow -> rejected,
// and connection loss -> transport_error.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <boost/asio.hpp>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "broker/broker_server.h"
#include "broker/native_client.h"
#include "broker/protocol.h"
#include "core/histogram.h"
#include "mq/backends.h"

using namespace pathbench;
using namespace pathbench::broker;
using protocol::DecodeError;
using protocol::DecodeResult;
using protocol::Frame;
using protocol::FrameType;
namespace asio = boost::asio;

namespace {

std::string hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

std::string unhex(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string encode(const Frame& f) {
  std::string out;
  protocol::encode_frame(f, out);
  return out;
}

DecodeResult decode(const std::string& bytes, std::size_t max = protocol::kDefaultMaxFrameBytes) {
  return protocol::decode_frame(std::string_view(bytes), max);
}

// A blocking loopback client with a receive timeout, for feeding the server raw bytes.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    timeval tv{5, 0};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void write(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  void send(const Frame& f) { write(encode(f)); }
  // The next frame's bytes, or nullopt on EOF / error / timeout.
  std::optional<std::string> read_frame() {
    for (;;) {
      auto r = decode(buffer_);
      if (r.kind == DecodeResult::Kind::frame) {
        std::string frame = buffer_.substr(0, r.consumed);
        buffer_.erase(0, r.consumed);
        return frame;
      }
      if (r.kind == DecodeResult::Kind::error) return std::nullopt;
      char chunk[4096];
      const ssize_t n = recv_some(chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  // True when the server closed the connection (EOF) within the receive timeout.
  bool closed_by_peer() {
    char chunk[256];
    ssize_t n = 0;
    while ((n = recv_some(chunk, sizeof chunk)) > 0) {
    }
    return n == 0 || errno == ECONNRESET;
  }

 private:
  // recv(2) itself, so SO_RCVTIMEO bounds the wait (Asio's blocking read would poll forever).
  ssize_t recv_some(char* data, std::size_t size) { return ::recv(socket_.native_handle(), data, size, 0); }

  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  std::string buffer_;
};

Frame frame_of(const std::string& bytes) {
  auto r = decode(bytes);
  REQUIRE(r.kind == DecodeResult::Kind::frame);
  return r.frame;
}

bool ping_works(std::uint16_t port) {
  RawClient c(port);
  c.send({.type = FrameType::ping, .seq = 99});
  auto reply = c.read_frame();
  return reply && frame_of(*reply).type == FrameType::pong && frame_of(*reply).seq == 99;
}

mq::Endpoint endpoint_for(const BrokerServer& server, int max_pending = 10000) {
  mq::Endpoint e;
  e.url = server.url();
  e.request_queue = "pathbench.requests";
  e.max_pending = max_pending;
  e.prefetch = 16;
  e.timeout_ns = 3 * kNanosPerSecond;
  return e;
}

// Requests issued on one io_context and the outcome of each, by correlation id.
struct RequestLog {
  std::map<std::uint64_t, std::vector<std::pair<Outcome, std::string>>> replies;
  std::size_t answered() const { return replies.size(); }
  mq::Requester::OnReply callback() {
    return [this](std::uint64_t id, Outcome outcome, std::string_view body) { replies[id].emplace_back(outcome, std::string(body)); };
  }
  std::size_t count(Outcome outcome) const {
    std::size_t n = 0;
    for (const auto& [id, list] : replies)
      for (const auto& [o, body] : list) n += o == outcome;
    return n;
  }
};

void run_until(asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
}

std::unique_ptr<mq::Requester> started_requester(const mq::Endpoint& e, asio::io_context& io, RequestLog& log) {
  auto requester = mq::make_embedded_requester(e, io, log.callback(), 0);
  std::optional<std::string> started;
  requester->start([&](std::string error) { started = std::move(error); });
  run_until(io, [&] { return started.has_value(); });
  REQUIRE(started.has_value());
  REQUIRE(*started == "");
  return requester;
}

mq::Responder::HandlerFactory echo_handlers(std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
  return [delay](int) {
    return [delay](std::string_view body) {
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
      return "echo:" + std::string(body);
    };
  };
}

}  // namespace

TEST_CASE("broker protocol: known-answer encodings") {
  // The worked example of docs/broker-protocol.md: publish seq 7 with confirm, correlation id 42,
  // queue "q", reply_to "r", body "hi".
  const Frame publish{.type = FrameType::publish, .seq = 7, .flags = protocol::kFlagConfirm, .correlation_id = 42,
                      .name = "q", .reply_to = "r", .body = "hi"};
  CHECK(hex(encode(publish)) == "00000018" "03" "00000007" "01" "000000000000002a" "0171" "0172" "00000002" "6869");
  CHECK(protocol::encoded_size(publish) == 28);
  CHECK(hex(encode({.type = FrameType::deliver, .consumer_tag = 3, .delivery_tag = 1, .correlation_id = 42,
                    .message_id = 9, .reply_to = "r", .body = "hi"})) ==
        "0000002a84" "0000000000000003" "0000000000000001" "00" "000000000000002a" "0000000000000009" "0172" "000000026869");
  CHECK(hex(encode({.type = FrameType::ping, .seq = 1})) == "000000050e00000001");
  CHECK(hex(encode({.type = FrameType::confirm, .seq = 7, .status = Status::overflow})) == "0000000682" "00000007" "01");
  CHECK(hex(encode({.type = FrameType::consume, .seq = 2, .count = 16, .name = "jobs"})) ==
        "0000000f04" "00000002" "00" "00000010" "046a6f6273");
  CHECK(hex(encode({.type = FrameType::ack, .seq = 3, .consumer_tag = 5, .delivery_tag = 6})) ==
        "0000001506" "00000003" "0000000000000005" "0000000000000006");
  CHECK(hex(encode({.type = FrameType::error, .seq = 0, .status = Status::malformed, .body = "x"})) ==
        "0000000b81" "00000000" "08" "00000001" "78");

  // Every type survives a round trip with the fields its layout carries.
  const Frame frames[] = {
      {.type = FrameType::declare_queue, .seq = 1, .flags = protocol::kFlagExclusive, .count = 1000, .name = "q"},
      {.type = FrameType::delete_queue, .seq = 2, .name = "q"},
      publish,
      {.type = FrameType::consume, .seq = 4, .flags = protocol::kFlagAutoAck, .count = 0, .name = "r"},
      {.type = FrameType::cancel, .seq = 5, .consumer_tag = 77},
      {.type = FrameType::ack, .seq = 6, .consumer_tag = 77, .delivery_tag = 8},
      {.type = FrameType::nack, .seq = 7, .flags = protocol::kFlagRequeue, .consumer_tag = 77, .delivery_tag = 9},
      {.type = FrameType::get, .seq = 8, .name = "q"},
      {.type = FrameType::subscribe, .seq = 9, .name = "news"},
      {.type = FrameType::publish_subject, .seq = 10, .flags = protocol::kFlagConfirm, .name = "news", .body = "b"},
      {.type = FrameType::fetch, .seq = 11, .count = 5, .subscriber_id = 3, .name = "news"},
      {.type = FrameType::pause, .seq = 12, .name = "q"},
      {.type = FrameType::resume, .seq = 13, .name = "q"},
      {.type = FrameType::ping, .seq = 14},
      {.type = FrameType::unsubscribe, .seq = 15, .subscriber_id = 3, .name = "news"},
      {.type = FrameType::ok, .seq = 16},
      {.type = FrameType::error, .seq = 17, .status = Status::no_queue, .body = "no such queue"},
      {.type = FrameType::confirm, .seq = 18, .status = Status::no_subscriber},
      {.type = FrameType::consume_ok, .seq = 19, .consumer_tag = 12},
      {.type = FrameType::deliver, .flags = protocol::kFlagRedelivered, .consumer_tag = 12, .delivery_tag = 13,
       .correlation_id = 14, .message_id = 15, .reply_to = "r", .body = std::string_view("\0\1\2", 3)},
      {.type = FrameType::get_ok, .seq = 20, .delivery_tag = 1, .correlation_id = 2, .message_id = 3, .reply_to = "", .body = "x"},
      {.type = FrameType::get_empty, .seq = 21},
      {.type = FrameType::subscribe_ok, .seq = 22, .subscriber_id = 4},
      {.type = FrameType::fetch_item, .seq = 23, .message_id = 5, .body = "m"},
      {.type = FrameType::fetch_end, .seq = 23, .count = 1},
      {.type = FrameType::pong, .seq = 24},
  };
  std::string stream;
  for (const auto& f : frames) protocol::encode_frame(f, stream);
  std::size_t offset = 0;
  for (const auto& expected : frames) {
    CAPTURE(protocol::to_string(expected.type));
    auto r = protocol::decode_frame(std::string_view(stream).substr(offset));
    REQUIRE(r.kind == DecodeResult::Kind::frame);
    offset += r.consumed;
    const Frame& f = r.frame;
    CHECK(f.type == expected.type);
    CHECK(f.seq == expected.seq);
    CHECK(f.flags == expected.flags);
    CHECK(f.status == expected.status);
    CHECK(f.count == expected.count);
    CHECK(f.consumer_tag == expected.consumer_tag);
    CHECK(f.delivery_tag == expected.delivery_tag);
    CHECK(f.correlation_id == expected.correlation_id);
    CHECK(f.message_id == expected.message_id);
    CHECK(f.subscriber_id == expected.subscriber_id);
    CHECK(f.name == expected.name);
    CHECK(f.reply_to == expected.reply_to);
    CHECK(f.body == expected.body);
  }
  CHECK(offset == stream.size());
}

TEST_CASE("broker protocol: need more, malformed and too large") {
  const std::string ping = encode({.type = FrameType::ping, .seq = 1});
  for (std::size_t n = 0; n < ping.size(); ++n) CHECK(decode(ping.substr(0, n)).kind == DecodeResult::Kind::need_more);
  auto error_of = [](const std::string& bytes, std::size_t max = protocol::kDefaultMaxFrameBytes) {
    auto r = decode(bytes, max);
    REQUIRE(r.kind == DecodeResult::Kind::error);
    return r.error;
  };
  CHECK(error_of(unhex("00000000")) == DecodeError::malformed);                // zero length
  CHECK(error_of(unhex("00000001ff")) == DecodeError::malformed);              // unknown type, judged at once
  CHECK(error_of(unhex("000000057f")) == DecodeError::malformed);              // unknown type before the rest arrives
  CHECK(error_of(unhex("000000060e0000000100")) == DecodeError::malformed);    // trailing byte after ping
  CHECK(error_of(unhex("000000040e000000")) == DecodeError::malformed);        // seq cut short
  CHECK(decode(unhex("00000007020000000105")).kind == DecodeResult::Kind::need_more);  // one byte still to come
  CHECK(error_of(unhex("0000000702000000010571")) == DecodeError::malformed);  // name says 5 bytes, 1 there
  CHECK(error_of(unhex("0000000682000000070a")) == DecodeError::malformed);    // status 10 unknown
  CHECK(error_of(unhex("0000000a040000000202000000100171")) == DecodeError::malformed);  // consume flag 0x02
  CHECK(error_of(unhex("00000009060000000100000000")) == DecodeError::malformed);  // ack without its tags
  CHECK(error_of(unhex("7fffffff")) == DecodeError::too_large);                 // from the prefix alone
  CHECK(error_of(ping, 4) == DecodeError::too_large);                          // a limit of 4 bytes
  // The body length field claims more than the frame holds.
  std::string bad = encode({.type = FrameType::fetch_item, .seq = 1, .message_id = 2, .body = "abc"});
  bad[bad.size() - 4] = 9;
  CHECK(error_of(bad) == DecodeError::malformed);
  // Exactly at the limit decodes.
  const std::string body(100, 'x');
  const std::string big = encode({.type = FrameType::fetch_item, .seq = 1, .message_id = 2, .body = body});
  CHECK(decode(big, big.size() - 4).kind == DecodeResult::Kind::frame);
  CHECK(error_of(big, big.size() - 5) == DecodeError::too_large);
}

TEST_CASE("broker server: an oversized frame and garbage close only their connection") {
  BrokerServer server({.max_frame_bytes = 64 * 1024});
  const auto port = static_cast<std::uint16_t>(std::stoi(server.address().substr(server.address().rfind(':') + 1)));
  RawClient keeper(port);
  keeper.send({.type = FrameType::ping, .seq = 1});
  REQUIRE(keeper.read_frame());

  {
    RawClient big(port);
    big.write(unhex("00100000"));  // 1 MiB announced, limit 64 KiB
    auto reply = big.read_frame();
    REQUIRE(reply);
    CHECK(frame_of(*reply).type == FrameType::error);
    CHECK(frame_of(*reply).status == Status::too_large);
    CHECK(big.closed_by_peer());
  }
  {
    RawClient garbage(port);
    garbage.write(unhex("00000003deadbe"));
    auto reply = garbage.read_frame();
    REQUIRE(reply);
    CHECK(frame_of(*reply).status == Status::malformed);
    CHECK(garbage.closed_by_peer());
  }
  {
    RawClient http(port);  // "GET " reads as a 1.2 GB length
    http.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(http.closed_by_peer());
  }
  {
    RawClient backwards(port);  // a server frame sent to the server
    backwards.send({.type = FrameType::pong, .seq = 1});
    auto reply = backwards.read_frame();
    REQUIRE(reply);
    CHECK(frame_of(*reply).status == Status::malformed);
    CHECK(backwards.closed_by_peer());
  }
  keeper.send({.type = FrameType::ping, .seq = 2});
  auto pong = keeper.read_frame();
  REQUIRE(pong);
  CHECK(frame_of(*pong).seq == 2);
  CHECK(ping_works(port));
  const auto stats = server.stats().native;
  CHECK(stats.closed_too_large == 2);
  CHECK(stats.closed_malformed == 2);
}

TEST_CASE("broker server: queue, subject and pause frames over a raw connection") {
  BrokerServer server({.max_pending = 2});
  const auto port = static_cast<std::uint16_t>(std::stoi(server.address().substr(server.address().rfind(':') + 1)));
  RawClient c(port);
  auto next = [&] {
    auto bytes = c.read_frame();
    REQUIRE(bytes);
    return *bytes;
  };
  c.send({.type = FrameType::declare_queue, .seq = 1, .name = "q"});
  CHECK(frame_of(next()).type == FrameType::ok);
  c.send({.type = FrameType::pause, .seq = 2, .name = "q"});
  CHECK(frame_of(next()).type == FrameType::ok);
  for (std::uint32_t i = 0; i < 3; ++i)
    c.send({.type = FrameType::publish, .seq = 10 + i, .flags = protocol::kFlagConfirm, .correlation_id = i, .name = "q", .body = "b"});
  for (std::uint32_t i = 0; i < 3; ++i) {
    auto f = frame_of(next());
    CHECK(f.type == FrameType::confirm);
    CHECK(f.seq == 10 + i);
    CHECK(f.status == (i < 2 ? Status::ok : Status::overflow));
  }
  c.send({.type = FrameType::publish, .seq = 20, .name = "nowhere", .body = "b"});  // no confirm asked: still told
  auto refused = frame_of(next());
  CHECK(refused.type == FrameType::error);
  CHECK(refused.status == Status::no_queue);
  c.send({.type = FrameType::get, .seq = 21, .name = "q"});
  CHECK(frame_of(next()).type == FrameType::get_empty);  // paused
  c.send({.type = FrameType::resume, .seq = 22, .name = "q"});
  CHECK(frame_of(next()).type == FrameType::ok);
  c.send({.type = FrameType::consume, .seq = 23, .count = 1, .name = "q"});
  auto ok = frame_of(next());
  REQUIRE(ok.type == FrameType::consume_ok);
  auto d = frame_of(next());
  REQUIRE(d.type == FrameType::deliver);
  CHECK(d.correlation_id == 0);
  c.send({.type = FrameType::nack, .seq = 24, .flags = protocol::kFlagRequeue, .consumer_tag = ok.consumer_tag, .delivery_tag = d.delivery_tag});
  auto again = frame_of(next());
  REQUIRE(again.type == FrameType::deliver);
  CHECK(again.has_flag(protocol::kFlagRedelivered));
  c.send({.type = FrameType::ack, .seq = 25, .consumer_tag = ok.consumer_tag, .delivery_tag = again.delivery_tag});
  auto second = frame_of(next());
  REQUIRE(second.type == FrameType::deliver);
  CHECK(second.correlation_id == 1);
  c.send({.type = FrameType::ack, .seq = 26, .consumer_tag = ok.consumer_tag, .delivery_tag = 999});
  auto unknown = frame_of(next());
  CHECK(unknown.type == FrameType::error);
  CHECK(unknown.seq == 26);
  CHECK(unknown.status == Status::unknown_delivery_tag);

  c.send({.type = FrameType::publish_subject, .seq = 30, .flags = protocol::kFlagConfirm, .name = "s", .body = "x"});
  CHECK(frame_of(next()).status == Status::no_subscriber);
  c.send({.type = FrameType::subscribe, .seq = 31, .name = "s"});
  auto sub = frame_of(next());
  REQUIRE(sub.type == FrameType::subscribe_ok);
  for (std::uint32_t i = 0; i < 2; ++i) {
    c.send({.type = FrameType::publish_subject, .seq = 32 + i, .flags = protocol::kFlagConfirm, .name = "s", .body = "x"});
    CHECK(frame_of(next()).status == Status::ok);
  }
  c.send({.type = FrameType::fetch, .seq = 40, .subscriber_id = sub.subscriber_id, .name = "s"});
  CHECK(frame_of(next()).type == FrameType::fetch_item);
  CHECK(frame_of(next()).type == FrameType::fetch_item);
  auto end = frame_of(next());
  CHECK(end.type == FrameType::fetch_end);
  CHECK(end.count == 2);
  c.send({.type = FrameType::fetch, .seq = 41, .subscriber_id = 12345, .name = "s"});
  CHECK(frame_of(next()).status == Status::no_subscriber);
}

TEST_CASE("embedded mq: requester and responders over loopback, hundreds in flight, each answered once") {
  BrokerServer server({.threads = 2});  // two I/O threads: connections on strands of one io_context
  const auto e = endpoint_for(server);
  auto responder = mq::make_embedded_responder(e, 2, echo_handlers(), "worker-0");
  asio::io_context io;
  RequestLog log;
  auto requester = started_requester(e, io, log);

  constexpr int kRounds = 10, kInFlight = 400;
  const Nanos start = now_ns();
  std::uint64_t next_id = 1;
  for (int round = 0; round < kRounds; ++round) {
    const std::size_t target = log.answered() + kInFlight;
    for (int i = 0; i < kInFlight; ++i, ++next_id) requester->request(next_id, fmt::format("r{}", next_id));
    run_until(io, [&] { return log.answered() >= target; });
  }
  const Nanos elapsed = now_ns() - start;
  const int total = kRounds * kInFlight;
  REQUIRE(log.answered() == static_cast<std::size_t>(total));
  for (const auto& [id, list] : log.replies) {
    REQUIRE(list.size() == 1);
    CHECK(list[0].first == Outcome::ok);
    CHECK(list[0].second == fmt::format("echo:r{}", id));
  }
  CHECK(requester->duplicates() == 0);
  MESSAGE(fmt::format("{} requests, {} in flight, 2 broker and 2 responder threads: {:.0f} round trips/s", total, kInFlight,
                      total / (static_cast<double>(elapsed) / kNanosPerSecond)));

  // One in flight: the path's latency floor over this broker.
  constexpr int kSerial = 2000;
  Histogram rtt_ns;
  for (int i = 0; i < kSerial; ++i, ++next_id) {
    const std::size_t target = log.answered() + 1;
    const Nanos sent = now_ns();
    requester->request(next_id, "one");
    while (log.answered() < target) io.run_one_for(std::chrono::seconds(1));
    rtt_ns.record(now_ns() - sent);
  }
  CHECK(log.answered() == static_cast<std::size_t>(total + kSerial));
  MESSAGE(fmt::format("1 in flight: round trip p50 {:.1f} us, p99 {:.1f} us", rtt_ns.value_at_percentile(50) / 1e3,
                      rtt_ns.value_at_percentile(99) / 1e3));
  requester->stop();
  responder->stop();
  const auto stats = responder->stats();
  CHECK(stats.consumed == static_cast<std::uint64_t>(total + kSerial));
  CHECK(stats.replied == static_cast<std::uint64_t>(total + kSerial));
  CHECK(stats.reply_failures == 0);
  // The exclusive reply queue went with the requester's connection (left: the request queue and
  // "default", which every BrokerServer declares for the seed fronts).
  for (int i = 0; i < 200 && server.stats().broker.queues.size() > 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(server.stats().broker.queues.size() == 2);
}

TEST_CASE("embedded mq: a responder that dies mid-flight has its unacked requests redelivered to another") {
  BrokerServer server({});
  const auto e = endpoint_for(server);
  auto slow = mq::make_embedded_responder(e, 1, echo_handlers(std::chrono::milliseconds(40)), "worker-1");
  asio::io_context io;
  RequestLog log;
  auto requester = started_requester(e, io, log);
  constexpr int kRequests = 10;
  for (int i = 1; i <= kRequests; ++i) requester->request(i, fmt::format("r{}", i));

  std::unique_ptr<mq::Responder> rescuer;
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    slow->stop();  // holds ~7 unacked deliveries (prefetch 16) and one in its handler
    rescuer = mq::make_embedded_responder(e, 1, echo_handlers(), "worker-2");
  });
  run_until(io, [&] { return log.answered() >= kRequests; });
  killer.join();
  REQUIRE(log.answered() == kRequests);
  for (const auto& [id, list] : log.replies) {
    CHECK(list.size() == 1);
    CHECK(list[0].first == Outcome::ok);
  }
  CHECK(requester->duplicates() == 0);
  const auto slow_stats = slow->stats();
  const auto rescue_stats = rescuer->stats();
  CHECK(slow_stats.replied >= 1);
  CHECK(slow_stats.replied < kRequests);
  CHECK(rescue_stats.redelivered >= 1);
  CHECK(slow_stats.replied + rescue_stats.replied == kRequests);
  requester->stop();
}

TEST_CASE("embedded mq: a full request queue answers rejected, and losing the broker answers transport_error") {
  auto server = std::make_unique<BrokerServer>(BrokerServerOptions{});
  const auto e = endpoint_for(*server, 10);
  asio::io_context io;
  RequestLog log;
  auto requester = started_requester(e, io, log);  // declares the request queue with max_pending 10
  REQUIRE(server->broker().set_paused(e.request_queue, true) == Status::ok);
  for (int i = 1; i <= 50; ++i) requester->request(i, "x");
  run_until(io, [&] { return log.count(Outcome::rejected) >= 40; });
  CHECK(log.count(Outcome::rejected) == 40);
  CHECK(log.answered() == 40);
  QueueStats s;
  REQUIRE(server->broker().queue_stats(e.request_queue, s) == Status::ok);
  CHECK(s.depth == 10);
  CHECK(s.rejected == 40);

  server.reset();  // the 10 accepted requests are still out
  run_until(io, [&] { return log.answered() >= 50; });
  CHECK(log.count(Outcome::transport_error) == 10);
  requester->request(51, "after");
  run_until(io, [&] { return log.answered() >= 51; });
  REQUIRE(log.replies.count(51) == 1);
  CHECK(log.replies[51][0].first == Outcome::unavailable);
}

TEST_CASE("embedded mq: start reports a broker that is not there") {
  asio::io_context io;
  mq::Endpoint e;
  e.url = "tcp://127.0.0.1:1";
  e.timeout_ns = 2 * kNanosPerSecond;
  RequestLog log;
  auto requester = mq::make_embedded_requester(e, io, log.callback(), 0);
  std::optional<std::string> started;
  requester->start([&](std::string error) { started = std::move(error); });
  run_until(io, [&] { return started.has_value(); });
  REQUIRE(started.has_value());
  CHECK(started->find("127.0.0.1:1") != std::string::npos);
  CHECK_THROWS_AS(mq::make_embedded_responder(e, 1, echo_handlers(), "worker-9"), std::runtime_error);

  e.request_queue = std::string(300, 'q');  // longer than the protocol carries
  auto named = mq::make_embedded_requester(e, io, log.callback(), 1);
  std::optional<std::string> refused;
  named->start([&](std::string error) { refused = std::move(error); });
  run_until(io, [&] { return refused.has_value(); });
  REQUIRE(refused.has_value());
  CHECK(refused->find("1..255 bytes") != std::string::npos);
  CHECK_THROWS_AS(mq::make_embedded_responder(e, 1, echo_handlers(), "worker-9"), std::runtime_error);
}

TEST_CASE("embedded mq: a paused responder takes no deliveries until resumed") {
  BrokerServer server({});
  const auto e = endpoint_for(server);
  auto responder = mq::make_embedded_responder(e, 2, echo_handlers(), "worker-3");
  asio::io_context io;
  RequestLog log;
  auto requester = started_requester(e, io, log);
  responder->pause(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the cancels reach the broker
  for (int i = 1; i <= 20; ++i) requester->request(i, "x");
  run_until(io, [&] { return false; }, std::chrono::milliseconds(200));
  CHECK(log.answered() == 0);
  QueueStats s;
  REQUIRE(server.broker().queue_stats(e.request_queue, s) == Status::ok);
  CHECK(s.depth == 20);
  CHECK(s.consumers == 0);
  responder->pause(false);
  run_until(io, [&] { return log.answered() >= 20; });
  CHECK(log.answered() == 20);
  CHECK(log.count(Outcome::ok) == 20);
  CHECK(responder->stats().replied == 20);
}

TEST_CASE("broker: pathbench serve broker prints its address, serves it, and stops on SIGTERM") {
  // `timeout` sends SIGTERM after 3 s: the role must be serving before and leave after.
  const std::string command = std::string("timeout -s TERM 3 '") + PATHBENCH_BINARY +
                              "' serve broker --listen 127.0.0.1:0 --max-pending 5 --threads 1 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char line[512] = {0};
  REQUIRE(fgets(line, sizeof line, pipe) != nullptr);
  const std::string first(line);
  CHECK(first.find("broker serving the native protocol") != std::string::npos);
  CHECK(first.find("max pending 5") != std::string::npos);
  const auto at = first.find("127.0.0.1:");
  REQUIRE(at != std::string::npos);
  const auto port = static_cast<std::uint16_t>(std::stoi(first.substr(at + 10)));
  CHECK(ping_works(port));
  std::string rest;
  while (fgets(line, sizeof line, pipe)) rest += line;
  const int status = pclose(pipe);
  CHECK(rest.find("signal 15") != std::string::npos);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 124);  // timeout's code for "had to signal it"; the role itself exited 0
}

TEST_CASE("embedded mq: responders reconnect to a broker restarted on the same address") {
  auto server = std::make_unique<BrokerServer>(BrokerServerOptions{});
  const std::string address = server->address();
  auto e = endpoint_for(*server);
  auto responder = mq::make_embedded_responder(e, 2, echo_handlers(), "worker-4");
  {
    asio::io_context io;
    RequestLog log;
    auto requester = started_requester(e, io, log);
    requester->request(1, "before");
    run_until(io, [&] { return log.answered() >= 1; });
    REQUIRE(log.count(Outcome::ok) == 1);
    requester->stop();
  }
  server.reset();
  server = std::make_unique<BrokerServer>(BrokerServerOptions{.listen = address});
  asio::io_context io;
  RequestLog log;
  auto requester = started_requester(e, io, log);
  requester->request(2, "after");
  run_until(io, [&] { return log.answered() >= 1; }, std::chrono::seconds(10));
  REQUIRE(log.answered() == 1);
  CHECK(log.replies[2][0].first == Outcome::ok);
  CHECK(log.replies[2][0].second == "echo:after");
  requester->stop();
}

TEST_CASE("broker server: connections past max_connections are refused with the reason, the rest keep working") {
  BrokerServer server({.max_connections = 2});
  const auto port = static_cast<std::uint16_t>(std::stoi(server.address().substr(server.address().rfind(':') + 1)));
  auto keeper = std::make_unique<RawClient>(port);
  keeper->send({.type = FrameType::ping, .seq = 1});
  REQUIRE(keeper->read_frame());
  RawClient second(port);
  second.send({.type = FrameType::ping, .seq = 1});
  REQUIRE(second.read_frame());
  {
    RawClient third(port);
    auto reply = third.read_frame();
    REQUIRE(reply);
    CHECK(frame_of(*reply).type == FrameType::error);
    CHECK(frame_of(*reply).status == Status::overflow);
    CHECK(frame_of(*reply).body.find("too many connections (max_connections 2)") != std::string::npos);
    CHECK(third.closed_by_peer());
  }
  CHECK(server.stats().native.closed_over_limit == 1);
  keeper.reset();  // a place comes free
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(ping_works(port));
}

TEST_CASE("broker server: incomplete frames cannot make it hold more than max_buffered_bytes, and idle buffers shrink") {
  BrokerServer server({.max_frame_bytes = 4 << 20, .max_buffered_bytes = 768 << 10});
  const auto port = static_cast<std::uint16_t>(std::stoi(server.address().substr(server.address().rfind(':') + 1)));
  // A well-formed 3 MiB publish of which only the first 300 KiB arrive.
  const std::string half_frame =
      encode({.type = FrameType::publish, .seq = 1, .name = "q", .body = std::string(3 << 20, 'x')}).substr(0, 300 * 1024);
  auto a = std::make_unique<RawClient>(port);
  a->write(half_frame);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto held = server.stats().native.buffered_bytes;
  CHECK(held >= 300 * 1024);
  CHECK(held <= 768 << 10);
  RawClient b(port);
  b.write(half_frame);
  auto reply = b.read_frame();
  REQUIRE(reply);
  CHECK(frame_of(*reply).status == Status::overflow);
  CHECK(frame_of(*reply).body.find("max_buffered_bytes") != std::string::npos);
  CHECK(b.closed_by_peer());
  CHECK(server.stats().native.closed_over_limit == 1);
  CHECK(server.stats().native.buffered_bytes <= 768 << 10);
  CHECK(ping_works(port));  // new connections still served
  // a gives up its frame (closes): what it held is released.
  a.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(server.stats().native.buffered_bytes < 100 * 1024);
}
