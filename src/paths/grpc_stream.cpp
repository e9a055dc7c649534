#include "paths/grpc_stream.h"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>

#include "pathbench.grpc.pb.h"
#include "net/grpc_bidi_client.h"
#include "paths/grpc_common.h"

namespace pathbench {

namespace asio = boost::asio;

namespace {

class GrpcStreamClient;

// What the client thread needs from one reply; copied out of gRPC's buffer on its thread.
struct StreamReply {
  std::uint64_t wire_id = 0;
  int code = 0;
  Hops hops;
};

// The events of one stream (net::GrpcBidiClient), on gRPC's threads: each is posted to the
// client thread, where all bookkeeping lives, so no lock is needed there.
struct StreamEvents {
  GrpcStreamClient* client;
  asio::io_context* io;
  int index;
  void on_reply(v1::QueryReply& reply);
  void on_done(const grpc::Status& status);
};
using QueryStreamReactor = net::GrpcBidiClient<v1::QueryRequest, v1::QueryReply, StreamEvents>;

class GrpcStreamClient final : public PathClient {
 public:
  GrpcStreamClient(asio::io_context& io, CompletionSink& sink, const Scenario& scenario, const PathSpec& spec,
                   const std::vector<std::string>& targets, int thread_index)
      : io_(io), sink_(sink), deadline_ns_(scenario.load.deadline_ns), streams_per_channel_(spec.streams),
        channels_(targets, spec.connections, thread_index) {}

  ~GrpcStreamClient() override {
    for (auto& s : streams_) s.reactor->cancel();
    // gRPC owns the reactors' last callbacks: wait until every stream is done.
    for (auto& s : streams_)
      while (!s.reactor->finished()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  void start(std::function<void(std::string)> done) override {
    if (auto error = channels_.connect(deadline_ns_); !error.empty()) return done(error);
    for (std::size_t c = 0; c < channels_.stubs.size(); ++c) {
      for (int k = 0; k < streams_per_channel_; ++k) {
        int index = static_cast<int>(streams_.size());
        streams_.emplace_back();
        streams_.back().channel = c;
        streams_.back().reactor = std::make_unique<QueryStreamReactor>(StreamEvents{this, &io_, index});
        begin(streams_.back());
      }
    }
    done("");
  }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query& query) override {
    // Round robin over the streams still open.
    for (std::size_t tries = 0; tries < streams_.size(); ++tries) {
      std::size_t index = next_++ % streams_.size();
      Stream& s = streams_[index];
      // finished(): gRPC already called OnDone, whose news may not have reached this thread yet;
      // a write now would be a call on a finished reactor.
      if (!s.open || s.reactor->finished()) continue;
      if (slot >= slot_stream_.size()) {
        slot_stream_.resize(slot + 1, -1);
        slot_id_.resize(slot + 1, 0);
      }
      slot_stream_[slot] = static_cast<int>(index);
      slot_id_[slot] = request_id;
      // False: the stream just ended; on_stream_done fails the request with the stream.
      s.reactor->write([&](v1::QueryRequest& request) {
        to_proto(query, 0, request);
        request.set_request_id(wire_id(slot, request_id));
      });
      return;
    }
    sink_.complete(slot, request_id, Outcome::unavailable);
  }

  void stop() override {
    stopping_ = true;
    reopen_timer_.cancel();
    for (auto& s : streams_) s.reactor->cancel();
  }

  // Events from the reactors, on the client thread.
  void on_reply(int, const StreamReply& reply) {
    std::uint32_t slot = slot_of(reply.wire_id);
    if (slot < slot_stream_.size() && slot_id_[slot] == id_of(reply.wire_id)) slot_stream_[slot] = -1;
    Outcome outcome = outcome_from_status(static_cast<grpc::StatusCode>(reply.code));
    sink_.complete(slot, id_of(reply.wire_id), outcome, outcome == Outcome::ok ? &reply.hops : nullptr);
  }

  void on_stream_done(int index, grpc::StatusCode code) {
    Stream& s = streams_[static_cast<std::size_t>(index)];
    s.open = false;
    // Everything still waiting on this stream fails with it, at once.
    Outcome outcome = code == grpc::StatusCode::UNAVAILABLE ? Outcome::unavailable : Outcome::transport_error;
    for (std::size_t slot = 0; slot < slot_stream_.size(); ++slot) {
      if (slot_stream_[slot] != index) continue;
      slot_stream_[slot] = -1;
      failing_.push_back(static_cast<std::uint32_t>(slot));
    }
    for (auto slot : failing_) sink_.complete(slot, slot_id_[slot], outcome);
    failing_.clear();
    schedule_reopen();
  }

 private:
  struct Stream {
    std::unique_ptr<QueryStreamReactor> reactor;
    bool open = true;
    std::size_t channel = 0;  // index into channels_.stubs
  };

  // A stream that ended (worker restarted, connection dropped) is opened again after a short
  // pause, so a run measures recovery instead of losing that stream for good. gRPC's channel
  // reconnects underneath; a stream opened while it cannot ends at once and is retried.
  void schedule_reopen() {
    if (stopping_ || reopen_pending_) return;
    reopen_pending_ = true;
    reopen_timer_.expires_after(std::chrono::milliseconds(100));
    reopen_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;  // cancelled: stopping, or this client is going away
      reopen_pending_ = false;
      if (stopping_) return;
      for (std::size_t i = 0; i < streams_.size(); ++i) {
        Stream& s = streams_[i];
        if (s.open || !s.reactor->finished()) continue;
        s.reactor = std::make_unique<QueryStreamReactor>(StreamEvents{this, &io_, static_cast<int>(i)});
        s.open = true;
        begin(s);
      }
    });
  }

  void begin(Stream& s) {
    s.reactor->begin([&](grpc::ClientContext* context, QueryStreamReactor* reactor) {
      channels_.stubs[s.channel]->async()->QueryStream(context, reactor);
    });
  }

  asio::io_context& io_;
  CompletionSink& sink_;
  Nanos deadline_ns_;
  int streams_per_channel_ = 1;
  ClientChannels channels_;
  std::vector<Stream> streams_;
  std::vector<int> slot_stream_;         // slot -> stream carrying it, -1 when none
  std::vector<std::uint64_t> slot_id_;   // slot -> the request id issued on it
  std::vector<std::uint32_t> failing_;
  std::size_t next_ = 0;
  asio::steady_timer reopen_timer_{io_};
  bool reopen_pending_ = false;
  bool stopping_ = false;
};

void StreamEvents::on_reply(v1::QueryReply& r) {
  StreamReply reply{r.request_id(), r.status().code(), hops_from(r)};
  asio::post(*io, [client = client, index = index, reply] { client->on_reply(index, reply); });
}

void StreamEvents::on_done(const grpc::Status& status) {
  // A copy of the stream's events: the client thread may already be freeing the stream.
  asio::post(*io, [client = client, index = index, code = status.error_code()] { client->on_stream_done(index, code); });
}

}  // namespace

std::unique_ptr<PathInstance> create_grpc_stream(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  return std::make_unique<GrpcPathInstance<GrpcStreamClient>>(scenario, spec, path_targets(spec, endpoints),
                                                              "grpc-stream");
}

}  // namespace pathbench
