// Private to the balancer's .cpp files (not for other users of roles/): BalancerServer::Impl and
// the pieces its gRPC front is made of, one concern per file:
//   balancer.cpp         lifetime: backends, the server, the WebSocket front, stopping in order
//   balancer_unary.cpp   unary Query forwarding (a client call per request, retry once)
//   balancer_stream.cpp  QueryStream forwarding: client streams multiplexed onto a few
//                        long-lived balancer -> worker streams per worker (BackendStream)
//   balancer_health.cpp  housekeeping thread "pb-bal-health": grpc.health.v1 checks of every
//                        worker, and the deadline sweep of the backend streams
#pragma once
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "net/grpc_bidi_client.h"
#include "net/grpc_server.h"
#include "pathbench.grpc.pb.h"
#include "roles/balancer.h"
#include "roles/balancer_ws.h"
#include "roles/forward_table.h"

namespace pathbench {
namespace balancer_detail {

using v1::QueryReply;
using v1::QueryRequest;

// What a worker's answer says about the worker's health (not about the request).
inline BackendResult classify(grpc::StatusCode code) { return backend_result_of_status(static_cast<int>(code)); }

inline std::chrono::system_clock::time_point deadline_after(Nanos ns) {
  return std::chrono::system_clock::now() + std::chrono::nanoseconds(ns);
}

struct Backend {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Worker::Stub> stub;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
};

// ---- streams (balancer_stream.cpp) ----------------------------------------------------------

class ClientSide;
using StreamForward = Forwarded<std::shared_ptr<ClientSide>>;

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

// One balancer -> worker stream: the bidi client (net/grpc_bidi_client.h) plus the table of the
// requests forwarded on it.
class BackendStream {
 public:
  BackendStream(BalancerServer::Impl& balancer, int backend)
      : balancer_(balancer), backend_(backend), client_(BackendEvents{this}) {}
  void begin(v1::Worker::Stub& stub);
  // False when the stream is no longer usable (the caller picks another route); true once the
  // request is answered one way or another (by the worker, expire() or the stream's end).
  bool send(const QueryRequest& request, StreamForward forward);
  void cancel() { client_.cancel(); }
  bool alive() { return client_.open(); }
  // The stream's last callback has run: it may be freed.
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  // Fails requests pending past their deadline (the housekeeping thread's sweep).
  void expire(Nanos now);

  void on_reply(QueryReply& reply);
  void on_done();

 private:
  using Client = net::GrpcBidiClient<QueryRequest, QueryReply, BackendEvents>;
  BalancerServer::Impl& balancer_;
  int backend_;
  std::mutex mutex_;  // guards pending_
  ForwardTable<StreamForward> pending_;
  std::atomic<bool> finished_{false};
  Client client_;  // last: its callbacks use the members above
};

// ---- unary (balancer_unary.cpp) -------------------------------------------------------------

// One unary call forwarded to the worker the core picks: a Query, or a Task (whose row is still
// `received` when the worker could not be reached, so the retry once elsewhere is safe too).
template <class Request, class Reply>
struct UnaryForwardOf {
  BalancerServer::Impl* balancer;
  grpc::ServerUnaryReactor* reactor;
  const Request* request;
  Reply* reply;
  std::optional<grpc::ClientContext> context;  // a fresh one per attempt
  Reply worker_reply;
  std::chrono::system_clock::time_point deadline;
  Nanos deadline_ns;  // the same, on the steady clock
  Nanos received_ns;
  int backend = -1;
  int attempts = 0;
};
using UnaryForward = UnaryForwardOf<QueryRequest, QueryReply>;
using TaskForward = UnaryForwardOf<v1::TaskRequest, v1::TaskReply>;

}  // namespace balancer_detail

struct BalancerServer::Impl final : public v1::Worker::CallbackService {
  // balancer.cpp
  explicit Impl(const BalancerOptions& o);
  ~Impl();
  void stop_grpc();

  // balancer_unary.cpp
  grpc::ServerUnaryReactor* Query(grpc::CallbackServerContext* context, const v1::QueryRequest* request,
                                  v1::QueryReply* reply) override;
  grpc::ServerUnaryReactor* Task(grpc::CallbackServerContext* context, const v1::TaskRequest* request,
                                 v1::TaskReply* reply) override;
  // Both unary RPCs go through these (instantiated for UnaryForward and TaskForward).
  template <class Request, class Reply>
  grpc::ServerUnaryReactor* accept_unary(grpc::CallbackServerContext* context, const Request* request, Reply* reply);
  template <class Forward>
  void forward(Forward* f);
  template <class Forward>
  void on_forwarded(Forward* f, grpc::Status status);
  template <class Forward>
  void finish(Forward* f, const grpc::Status& status);
  // The workers' dataset: asked of the first healthy backend (all serve the same data).
  grpc::ServerUnaryReactor* Shape(grpc::CallbackServerContext* context, const v1::ShapeRequest* request,
                                  v1::DatasetShape* reply) override;

  // balancer_stream.cpp
  grpc::ServerBidiReactor<v1::QueryRequest, v1::QueryReply>* QueryStream(grpc::CallbackServerContext*) override;
  // Called from ClientSide::OnReadDone for each request on a client stream.
  void forward_stream(const std::shared_ptr<balancer_detail::ClientSide>& client, const v1::QueryRequest& request);
  // A live stream to `backend`, round robin over up to streams_per_worker; replaces dead ones.
  balancer_detail::BackendStream* stream_for(int backend);

  // balancer_health.cpp
  void housekeeping_loop();
  void check_health();

  BalancerOptions options;
  BalancerCore core;
  std::vector<balancer_detail::Backend> backends;
  std::unique_ptr<net::GrpcServer> server;
  BalancerCounters counters;
  std::atomic<int> unary_in_flight{0}, health_in_flight{0};
  std::mutex streams_mutex;
  std::vector<std::vector<std::unique_ptr<balancer_detail::BackendStream>>> streams;
  std::vector<std::unique_ptr<balancer_detail::BackendStream>> retired;
  bool streams_closed = false;  // under streams_mutex: stopping, no new backend streams
  std::size_t round_robin = 0;
  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::thread housekeeping;
  std::unique_ptr<BalancerWsFront> ws_front;  // null without ws_listen / worker_ws
};

}  // namespace pathbench
