#include "paths/grpc_stream.h"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mutex>
#include <thread>

#include "pathbench.grpc.pb.h"
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

// One bidirectional stream. gRPC calls the On* methods on its own threads; each posts the
// event to the client thread, where all bookkeeping lives, so no lock is needed.
class QueryStreamReactor final : public grpc::ClientBidiReactor<v1::QueryRequest, v1::QueryReply> {
 public:
  QueryStreamReactor(GrpcStreamClient& client, asio::io_context& io, int index) : client_(client), io_(io), index_(index) {}

  void begin(v1::Worker::Stub& stub) {
    stub.async()->QueryStream(&context_, this);
    // Writes start on the client thread, outside any reaction: the hold keeps gRPC from
    // finishing the stream until the read loop has seen its end and write() refuses.
    AddHold();
    StartRead(&read_buffer_);
    StartCall();
  }
  void cancel() { context_.TryCancel(); }
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }

  // Client thread only.
  v1::QueryRequest& write_buffer() noexcept { return write_buffer_; }
  // False once the stream is over (nothing was started).
  bool write() {
    std::lock_guard lock(mutex_);
    if (reads_over_) return false;
    StartWrite(&write_buffer_);
    return true;
  }

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  GrpcStreamClient& client_;
  asio::io_context& io_;
  int index_;
  grpc::ClientContext context_;
  v1::QueryReply read_buffer_;
  v1::QueryRequest write_buffer_;
  std::atomic<bool> finished_{false};
  std::recursive_mutex mutex_;  // orders write() against the end of the read loop
  bool reads_over_ = false;
};

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
        streams_.back().reactor = std::make_unique<QueryStreamReactor>(*this, io_, index);
        streams_.back().reactor->begin(*channels_.stubs[c]);
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
      s.queue.push_back({wire_id(slot, request_id), query});
      if (!s.writing) write_next(s);
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

  void on_write_done(int index, bool ok) {
    Stream& s = streams_[static_cast<std::size_t>(index)];
    s.writing = false;
    if (ok && s.open) write_next(s);
  }

  void on_stream_done(int index, grpc::StatusCode code) {
    Stream& s = streams_[static_cast<std::size_t>(index)];
    s.open = false;
    // Everything still waiting on this stream fails with it, at once.
    Outcome outcome = code == grpc::StatusCode::UNAVAILABLE ? Outcome::unavailable : Outcome::transport_error;
    s.queue.clear();
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
  struct Pending {
    std::uint64_t wire_id;
    Query query;
  };
  struct Stream {
    std::unique_ptr<QueryStreamReactor> reactor;
    std::vector<Pending> queue;  // waiting for the one write in flight
    std::size_t queue_head = 0;
    bool writing = false;
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
        s.reactor = std::make_unique<QueryStreamReactor>(*this, io_, static_cast<int>(i));
        s.queue.clear();
        s.queue_head = 0;
        s.writing = false;
        s.open = true;
        s.reactor->begin(*channels_.stubs[s.channel]);
      }
    });
  }

  void write_next(Stream& s) {
    if (s.queue_head == s.queue.size() || s.reactor->finished()) {
      s.queue.clear();
      s.queue_head = 0;
      return;
    }
    Pending& p = s.queue[s.queue_head++];
    v1::QueryRequest& request = s.reactor->write_buffer();
    to_proto(p.query, 0, request);
    request.set_request_id(p.wire_id);
    s.writing = true;
    if (!s.reactor->write()) s.writing = false;  // the stream ended; on_stream_done fails the rest
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

void QueryStreamReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The stream is over: no write starts after this, then gRPC may call OnDone.
    {
      std::lock_guard lock(mutex_);
      reads_over_ = true;
    }
    RemoveHold();
    return;
  }
  StreamReply reply{read_buffer_.request_id(), read_buffer_.status().code(), hops_from(read_buffer_)};
  asio::post(io_, [client = &client_, index = index_, reply] { client->on_reply(index, reply); });
  StartRead(&read_buffer_);
}

void QueryStreamReactor::OnWriteDone(bool ok) {
  asio::post(io_, [client = &client_, index = index_, ok] { client->on_write_done(index, ok); });
}

void QueryStreamReactor::OnDone(const grpc::Status& status) {
  // Copies first: once finished_ is set the client thread may delete this reactor.
  asio::io_context& io = io_;
  GrpcStreamClient* client = &client_;
  const int index = index_;
  const grpc::StatusCode code = status.error_code();
  finished_.store(true, std::memory_order_release);
  asio::post(io, [client, index, code] { client->on_stream_done(index, code); });
}

}  // namespace

std::unique_ptr<PathInstance> create_grpc_stream(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  return std::make_unique<GrpcPathInstance<GrpcStreamClient>>(scenario, spec, path_targets(spec, endpoints),
                                                              "grpc-stream");
}

}  // namespace pathbench
