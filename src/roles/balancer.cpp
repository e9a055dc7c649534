#include "roles/balancer.h"

#include "roles/balancer_ws.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "grpc/health/v1/health.grpc.pb.h"
#include "net/grpc_bidi_client.h"
#include "net/grpc_server.h"
#include "pathbench.grpc.pb.h"

namespace pathbench {

namespace {

using v1::QueryReply;
using v1::QueryRequest;

// What a worker's answer says about the worker's health (not about the request).
BackendResult classify(grpc::StatusCode code) { return backend_result_of_status(static_cast<int>(code)); }

std::chrono::system_clock::time_point deadline_after(Nanos ns) {
  return std::chrono::system_clock::now() + std::chrono::nanoseconds(ns);
}

}  // namespace

namespace {

struct Backend {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Worker::Stub> stub;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
};

// ---- streams ---------------------------------------------------------------------------
//
// Client streams (ClientSide) are multiplexed onto a few long-lived balancer -> worker
// streams per worker (BackendStream). Each forwarded request gets a balancer-wide id; the
// BackendStream's pending table maps it back to the client stream and the client's id.

class ClientSide;

struct PendingStreamRequest {
  std::shared_ptr<ClientSide> client;
  std::uint64_t client_request_id = 0;
  Nanos received_ns = 0;
  Nanos deadline_ns = 0;
  int backend = -1;
};

// The server side of one client's QueryStream. Replies come from backend-stream threads, so
// writes are serialized by a mutex: one write in flight plus a queue. The reactor object is
// kept alive by shared_ptr until gRPC is done with it and no forwarded request refers to it.
class ClientSide : public grpc::ServerBidiReactor<QueryRequest, QueryReply>,
                   public std::enable_shared_from_this<ClientSide> {
 public:
  explicit ClientSide(BalancerServer::Impl& balancer) : balancer_(balancer) {}
  void begin(std::shared_ptr<ClientSide> self) {
    self_ = std::move(self);
    StartRead(&request_);
  }
  void request_started();        // before forwarding one of its requests
  void reply(QueryReply reply);  // any thread; answers one started request
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  void write_locked();
  void finish_if_over_locked();
  BalancerServer::Impl& balancer_;
  std::shared_ptr<ClientSide> self_;  // released in OnDone
  QueryRequest request_;
  std::recursive_mutex mutex_;  // a reaction may run inline from StartWrite/Finish on this thread
  std::deque<QueryReply> queue_;
  int outstanding_ = 0;  // requests forwarded and not yet answered
  QueryReply writing_;
  bool write_in_flight_ = false;
  bool done_ = false;
  bool finished_ = false;
  bool reads_over_ = false;
};

class BackendStream;

// The backend stream's events, on gRPC's threads, handled in place (BackendStream's table is
// under its own mutex).
struct BackendEvents {
  BackendStream* stream;
  void on_reply(QueryReply& reply);
  void on_done(const grpc::Status& status);
};

// One balancer -> worker stream: the bidi client (net/grpc_bidi_client.h) plus the table of
// requests forwarded on it, by balancer-wide id.
class BackendStream {
 public:
  BackendStream(BalancerServer::Impl& balancer, int backend)
      : balancer_(balancer), backend_(backend), client_(BackendEvents{this}) {}
  void begin(v1::Worker::Stub& stub) {
    client_.begin([&](grpc::ClientContext* context, Client* reactor) { stub.async()->QueryStream(context, reactor); });
  }
  // False when the stream is no longer usable (the caller picks another route); true once the
  // request is answered one way or another (by the worker, expire() or the stream's end).
  bool send(std::uint64_t balancer_id, const QueryRequest& request, PendingStreamRequest pending);
  void cancel() { client_.cancel(); }
  bool alive() { return client_.open(); }
  // The stream's last callback has run: it may be freed.
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  // Fails requests pending longer than their deadline (called by the housekeeping thread).
  void expire(Nanos now);

  void on_reply(QueryReply& reply);
  void on_done();

 private:
  using Client = net::GrpcBidiClient<QueryRequest, QueryReply, BackendEvents>;
  BalancerServer::Impl& balancer_;
  int backend_;
  std::mutex mutex_;  // guards pending_
  std::unordered_map<std::uint64_t, PendingStreamRequest> pending_;
  std::atomic<bool> finished_{false};
  Client client_;  // last: its callbacks use the members above
};

}  // namespace

struct BalancerServer::Impl final : public v1::Worker::CallbackService {
  explicit Impl(const BalancerOptions& o) : options(o), core(o.workers, o.routing) {
    if (o.workers.empty()) throw std::runtime_error("balancer: no workers to balance over");
    for (std::size_t i = 0; i < o.workers.size(); ++i) {
      Backend b;
      b.address = o.workers[i];
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      // Reconnect quickly after a worker comes back, so re-admission is prompt.
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
      b.channel = grpc::CreateCustomChannel(b.address, grpc::InsecureChannelCredentials(), args);
      b.stub = v1::Worker::NewStub(b.channel);
      b.health = grpc::health::v1::Health::NewStub(b.channel);
      backends.push_back(std::move(b));
    }
    streams.resize(backends.size());

    net::GrpcServerOptions grpc_options;
    grpc_options.listen = o.listen;
    grpc_options.what = "balancer";
    server = std::make_unique<net::GrpcServer>(grpc_options,
                                               std::vector<net::GrpcService>{{this, v1::Worker::service_full_name()}});
    housekeeping = std::thread([this] { housekeeping_loop(); });
    if (!o.ws_listen.empty() && !o.worker_ws.empty()) {
      BalancerWsOptions ws;
      ws.listen = o.ws_listen;
      ws.worker_ws = o.worker_ws;
      ws.connections_per_worker = o.streams_per_worker;
      ws.default_deadline_ns = o.default_deadline_ns;
      try {
        ws_front = std::make_unique<BalancerWsFront>(ws, core, counters);
      } catch (...) {
        stop_grpc();
        throw;
      }
    }
  }

  ~Impl() {
    ws_front.reset();  // it uses the core and the counters
    stop_grpc();
  }

  void stop_grpc() {
    {
      std::lock_guard lock(stop_mutex);
      stopping = true;
    }
    stop_cv.notify_all();
    housekeeping.join();
    server->set_serving(false);  // every service, "" included
    // Backend streams go first: a client stream waiting on a paused worker would otherwise hold
    // Shutdown for its whole deadline. Requests on them fail UNAVAILABLE; no new ones open.
    {
      std::lock_guard lock(streams_mutex);
      streams_closed = true;
      for (auto& per_backend : streams)
        for (auto& s : per_backend) s->cancel();
    }
    server->shutdown(deadline_after(options.default_deadline_ns));
    // Backend streams are gRPC reactors: wait for their last callback before freeing them.
    for (auto& per_backend : streams)
      for (auto& s : per_backend)
        while (!s->finished()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (auto& dead : retired)
      while (!dead->finished()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    // Forwarded unary calls finish within their deadline.
    while (unary_in_flight.load() > 0 || health_in_flight.load() > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  // ---- unary ---------------------------------------------------------------------------

  struct Forward {
    Impl* balancer;
    grpc::ServerUnaryReactor* reactor;
    const QueryRequest* request;
    QueryReply* reply;
    std::optional<grpc::ClientContext> context;  // a fresh one per attempt
    QueryReply worker_reply;
    std::chrono::system_clock::time_point deadline;
    Nanos received_ns;
    int backend = -1;
    int attempts = 0;
  };

  grpc::ServerUnaryReactor* Query(grpc::CallbackServerContext* context, const QueryRequest* request,
                                  QueryReply* reply) override {
    counters.received.fetch_add(1, std::memory_order_relaxed);
    auto* reactor = context->DefaultReactor();
    auto* f = new Forward{this, reactor, request, reply, {}, {}, {}, now_ns()};
    f->deadline = context->deadline() == std::chrono::system_clock::time_point::max()
                      ? deadline_after(options.default_deadline_ns)
                      : context->deadline();
    unary_in_flight.fetch_add(1);
    forward(f);
    return reactor;
  }

  void forward(Forward* f) {
    auto pick = core.pick();
    if (pick.kind != BalancerCore::Pick::Kind::routed) {
      bool overloaded = pick.kind == BalancerCore::Pick::Kind::overloaded;
      (overloaded ? counters.rejected : counters.unavailable).fetch_add(1, std::memory_order_relaxed);
      finish(f, overloaded ? grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                          fmt::format("balancer: {} requests pending, the limit", options.routing.max_pending))
                           : grpc::Status(grpc::StatusCode::UNAVAILABLE, "balancer: no healthy worker"));
      return;
    }
    f->backend = pick.backend;
    // A retry forwards the same request again: count requests, not attempts.
    if (++f->attempts == 1) counters.forwarded.fetch_add(1, std::memory_order_relaxed);
    f->context.emplace();
    f->context->set_deadline(f->deadline);
    backends[static_cast<std::size_t>(f->backend)].stub->async()->Query(
        &*f->context, f->request, &f->worker_reply, [f](grpc::Status status) { f->balancer->on_forwarded(f, std::move(status)); });
  }

  void on_forwarded(Forward* f, grpc::Status status) {
    core.release(f->backend, classify(status.error_code()));
    // A worker that could not be reached never saw the request: one more try elsewhere,
    // if the deadline leaves room.
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE && f->attempts < 2 &&
        std::chrono::system_clock::now() < f->deadline) {
      forward(f);
      return;
    }
    if (status.ok()) {
      f->reply->Swap(&f->worker_reply);
      f->reply->set_balancer_ns(now_ns() - f->received_ns);
    }
    finish(f, status);
  }

  void finish(Forward* f, const grpc::Status& status) {
    f->reactor->Finish(status);
    delete f;
    unary_in_flight.fetch_sub(1);
  }

  // ---- streams -------------------------------------------------------------------------

  grpc::ServerBidiReactor<QueryRequest, QueryReply>* QueryStream(grpc::CallbackServerContext*) override {
    auto side = std::make_shared<ClientSide>(*this);
    side->begin(side);
    return side.get();
  }

  // Called from ClientSide::OnReadDone for each request on a client stream.
  void forward_stream(const std::shared_ptr<ClientSide>& client, const QueryRequest& request) {
    counters.received.fetch_add(1, std::memory_order_relaxed);
    client->request_started();
    Nanos now = now_ns();
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto pick = core.pick();
      if (pick.kind != BalancerCore::Pick::Kind::routed) {
        bool overloaded = pick.kind == BalancerCore::Pick::Kind::overloaded;
        (overloaded ? counters.rejected : counters.unavailable).fetch_add(1, std::memory_order_relaxed);
        client->reply(error_reply(request.request_id(), overloaded ? grpc::StatusCode::RESOURCE_EXHAUSTED
                                                                   : grpc::StatusCode::UNAVAILABLE,
                                  overloaded ? "balancer: pending limit reached" : "balancer: no healthy worker"));
        return;
      }
      BackendStream* stream = stream_for(pick.backend);
      std::uint64_t id = next_stream_id.fetch_add(1, std::memory_order_relaxed);
      PendingStreamRequest pending{client, request.request_id(), now, now + options.default_deadline_ns, pick.backend};
      if (stream && stream->send(id, request, std::move(pending))) {
        counters.forwarded.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      core.release(pick.backend, BackendResult::transport_failure);
    }
    counters.unavailable.fetch_add(1, std::memory_order_relaxed);
    client->reply(error_reply(request.request_id(), grpc::StatusCode::UNAVAILABLE, "balancer: worker stream failed"));
  }

  static QueryReply error_reply(std::uint64_t id, grpc::StatusCode code, std::string message) {
    QueryReply r;
    r.set_request_id(id);
    r.mutable_status()->set_code(static_cast<int>(code));
    r.mutable_status()->set_message(std::move(message));
    return r;
  }

  // A live stream to `backend`, round robin over up to streams_per_worker; replaces dead ones.
  BackendStream* stream_for(int backend) {
    std::lock_guard lock(streams_mutex);
    if (streams_closed) return nullptr;
    auto& list = streams[static_cast<std::size_t>(backend)];
    for (auto it = list.begin(); it != list.end();) {
      if (!(*it)->alive()) {
        retired.push_back(std::move(*it));
        it = list.erase(it);
      } else {
        ++it;
      }
    }
    if (static_cast<int>(list.size()) < options.streams_per_worker) {
      list.push_back(std::make_unique<BackendStream>(*this, backend));
      list.back()->begin(*backends[static_cast<std::size_t>(backend)].stub);
      return list.back().get();
    }
    return list[round_robin++ % list.size()].get();
  }

  // ---- health checks and stream deadlines ------------------------------------------------

  void housekeeping_loop() {
    pthread_setname_np(pthread_self(), "pb-bal-health");
    Nanos next_check = now_ns();
    std::unique_lock lock(stop_mutex);
    while (!stopping) {
      Nanos now = now_ns();
      if (now >= next_check) {
        next_check = now + options.health_interval_ns;
        lock.unlock();
        check_health();
        lock.lock();
      }
      lock.unlock();
      {
        std::lock_guard streams_lock(streams_mutex);
        for (auto& per_backend : streams)
          for (auto& s : per_backend) s->expire(now_ns());
      }
      lock.lock();
      stop_cv.wait_for(lock, std::chrono::milliseconds(50));
    }
  }

  struct HealthCall {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
  };

  void check_health() {
    for (std::size_t i = 0; i < backends.size(); ++i) {
      auto call = std::make_shared<HealthCall>();
      call->context.set_deadline(deadline_after(options.health_timeout_ns));
      health_in_flight.fetch_add(1);
      backends[i].health->async()->Check(&call->context, &call->request, &call->response,
                                         [this, call, i](grpc::Status status) {
                                           bool serving = status.ok() && call->response.status() ==
                                                                             grpc::health::v1::HealthCheckResponse::SERVING;
                                           core.health_result(static_cast<int>(i), serving);
                                           health_in_flight.fetch_sub(1);
                                         });
    }
  }

  BalancerOptions options;
  BalancerCore core;
  std::vector<Backend> backends;
  std::unique_ptr<net::GrpcServer> server;
  BalancerCounters counters;
  std::atomic<std::uint64_t> next_stream_id{1};
  std::atomic<int> unary_in_flight{0}, health_in_flight{0};
  std::mutex streams_mutex;
  std::vector<std::vector<std::unique_ptr<BackendStream>>> streams;
  std::vector<std::unique_ptr<BackendStream>> retired;
  bool streams_closed = false;  // under streams_mutex: stopping, no new backend streams
  std::size_t round_robin = 0;
  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::thread housekeeping;
  std::unique_ptr<BalancerWsFront> ws_front;  // null without ws_listen / worker_ws
};

namespace {

// ---- ClientSide ------------------------------------------------------------------------

void ClientSide::OnReadDone(bool ok) {
  if (!ok) {
    // The client half-closed (or went away): finish once every reply has been written.
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    reads_over_ = true;
    finish_if_over_locked();
    return;
  }
  balancer_.forward_stream(shared_from_this(), request_);
  StartRead(&request_);
}

void ClientSide::request_started() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  ++outstanding_;
}

void ClientSide::reply(QueryReply reply) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  --outstanding_;
  if (done_ || finished_) return;
  queue_.push_back(std::move(reply));
  if (!write_in_flight_) write_locked();
}

void ClientSide::finish_if_over_locked() {
  if (reads_over_ && !done_ && !finished_ && outstanding_ == 0 && queue_.empty() && !write_in_flight_) {
    finished_ = true;
    Finish(grpc::Status::OK);
  }
}

void ClientSide::write_locked() {
  writing_ = std::move(queue_.front());
  queue_.pop_front();
  write_in_flight_ = true;
  StartWrite(&writing_);
}

void ClientSide::OnWriteDone(bool ok) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  write_in_flight_ = false;
  if (done_) return;
  if (!ok) {
    // The client went away (cancelled): replies still to come have nowhere to go. Finish now so
    // gRPC can call OnDone; reply() drops what arrives later.
    queue_.clear();
    if (!finished_) {
      finished_ = true;
      Finish(grpc::Status::CANCELLED);
    }
    return;
  }
  if (!queue_.empty()) write_locked();
  else finish_if_over_locked();
}

void ClientSide::OnDone() {
  {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    done_ = true;
    queue_.clear();
  }
  // Pending forwarded requests may still hold references; the last one frees us.
  self_.reset();
}

// ---- BackendStream -----------------------------------------------------------------------

bool BackendStream::send(std::uint64_t balancer_id, const QueryRequest& request, PendingStreamRequest pending) {
  // In the table before the write, so the reply cannot arrive first.
  {
    std::lock_guard lock(mutex_);
    pending_.emplace(balancer_id, std::move(pending));
  }
  if (client_.write([&](QueryRequest& slot) {
        slot.CopyFrom(request);
        slot.set_request_id(balancer_id);
      }))
    return true;
  // The stream is over. Its end may already have failed the request (then it is answered);
  // otherwise it was never sent and the caller routes it again.
  std::lock_guard lock(mutex_);
  return pending_.erase(balancer_id) == 0;
}

void BackendStream::on_reply(QueryReply& reply) {
  PendingStreamRequest pending;
  {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(reply.request_id());
    if (it == pending_.end()) return;  // expired already; the client got its error
    pending = std::move(it->second);
    pending_.erase(it);
  }
  balancer_.core.release(backend_, classify(static_cast<grpc::StatusCode>(reply.status().code())));
  QueryReply out = reply;
  out.set_request_id(pending.client_request_id);
  out.set_balancer_ns(now_ns() - pending.received_ns);
  pending.client->reply(std::move(out));
}

void BackendStream::expire(Nanos now) {
  std::vector<PendingStreamRequest> expired;
  {
    std::lock_guard lock(mutex_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline_ns <= now) {
        expired.push_back(std::move(it->second));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& p : expired) {
    balancer_.core.release(backend_, BackendResult::failure);
    p.client->reply(BalancerServer::Impl::error_reply(p.client_request_id, grpc::StatusCode::DEADLINE_EXCEEDED,
                                                      "balancer: worker did not answer in time"));
  }
}

void BackendEvents::on_reply(QueryReply& reply) { stream->on_reply(reply); }
void BackendEvents::on_done(const grpc::Status&) { stream->on_done(); }

void BackendStream::on_done() {
  std::unordered_map<std::uint64_t, PendingStreamRequest> orphans;
  {
    std::lock_guard lock(mutex_);
    orphans.swap(pending_);
  }
  // The worker's stream broke: everything on it fails now, and the worker is suspect.
  for (auto& [id, p] : orphans) {
    balancer_.core.release(backend_, BackendResult::transport_failure);
    p.client->reply(BalancerServer::Impl::error_reply(p.client_request_id, grpc::StatusCode::UNAVAILABLE,
                                                      "balancer: worker stream broke"));
  }
  finished_.store(true, std::memory_order_release);
}

}  // namespace

BalancerServer::BalancerServer(const BalancerOptions& options) : impl_(std::make_unique<Impl>(options)) {}
BalancerServer::~BalancerServer() = default;
std::string BalancerServer::address() const { return impl_->server->address(); }
std::string BalancerServer::ws_address() const { return impl_->ws_front ? impl_->ws_front->address() : std::string(); }

BalancerStats BalancerServer::stats() const {
  BalancerStats s;
  s.received = impl_->counters.received.load();
  s.forwarded = impl_->counters.forwarded.load();
  s.rejected = impl_->counters.rejected.load();
  s.unavailable = impl_->counters.unavailable.load();
  s.backends = impl_->core.snapshot();
  return s;
}

}  // namespace pathbench
