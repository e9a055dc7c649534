#include "roles/worker.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/grpc_server.h"
#include "net/websocket.h"
#include "roles/query_engine.h"
#include "roles/task_engine.h"
#include "roles/worker_grpc.h"
#include "roles/worker_ws.h"

namespace pathbench {

namespace {

// What Shape answers: read once, after the engine has opened (and so checked) the database.
std::optional<DatasetShape> served_shape(const WorkerOptions& options) {
  if (options.db_path.empty()) return std::nullopt;
  return read_dataset_shape(options.db_path);
}

}  // namespace

struct WorkerServer::Impl {
  explicit Impl(const WorkerOptions& options)
      : engine(options), tasks(options), service(make_worker_service(engine, served_shape(options), &tasks)), ws_front(engine) {
    net::GrpcServerOptions grpc_options;
    grpc_options.listen = options.listen;
    grpc_options.what = fmt::format("worker {}", options.id);
    grpc_options.max_receive_message_bytes = std::max<std::int64_t>(0, options.max_message_bytes);
    grpc_options.tls = options.tls;
    try {
      server = std::make_unique<net::GrpcServer>(grpc_options, std::vector<net::GrpcService>{{service.get(), kWorkerServiceName}});
    } catch (...) {
      engine.stop();
      throw;
    }
    if (!options.ws_listen.empty()) {
      try {
        net::WsServerOptions ws;
        ws.listen = options.ws_listen;
        ws.thread_name = worker_thread_name(options.id, "ws");
        ws.limits.max_message_bytes = static_cast<std::size_t>(std::max<std::int64_t>(1, options.ws_max_message_bytes));
        ws.tls = options.tls;  // wss:// with the same mutual TLS as its gRPC server
        ws_server = std::make_unique<net::WsServer>(ws, ws_front);
      } catch (const std::exception& e) {
        server->shutdown(std::chrono::system_clock::now());
        engine.stop();
        throw std::runtime_error(fmt::format("worker {}: {}", options.id, e.what()));
      }
    }
  }

  ~Impl() { drain(2 * kNanosPerSecond); }

  void drain(Nanos grace_ns) {
    std::lock_guard lock(drain_mu);
    if (drained) return;
    drained = true;
    // First, so balancers' health checks stop sending work while what is in flight finishes.
    server->set_serving(false);
    const Nanos grace = std::max<Nanos>(0, grace_ns);
    // No grace means the process "died": its WebSocket connections drop without a close.
    if (ws_server && grace == 0) ws_server->abort_all();
    engine.set_hard_stop(now_ns() + grace);
    tasks.set_hard_stop(now_ns() + grace);
    // Returns once every call has finished: in flight ones get `grace`, then are cancelled.
    // The SQL threads keep running meanwhile, since open streams finish only when their
    // queries are answered.
    server->shutdown(std::chrono::system_clock::now() + std::chrono::nanoseconds(grace));
    engine.stop();
    tasks.stop();
    // After the engine: every WebSocket answer has been handed to its connection by now, and
    // is written before the close (1001).
    if (ws_server) ws_server->stop();
  }

  // Declaration order is destruction order reversed: the server goes before the service it
  // calls, and both before the engine whose threads they feed (already joined by drain()).
  QueryEngine engine;
  TaskEngine tasks;  // the Task RPC's queue and threads (roles/task_engine.h)
  std::unique_ptr<grpc::Service> service;
  std::unique_ptr<net::GrpcServer> server;
  WorkerWsFront ws_front;
  std::unique_ptr<net::WsServer> ws_server;  // null without ws_listen
  std::mutex drain_mu;
  bool drained = false;
};

WorkerServer::WorkerServer(const WorkerOptions& options) : impl_(std::make_unique<Impl>(options)) {}
WorkerServer::~WorkerServer() = default;

std::string WorkerServer::address() const { return impl_->server->address(); }
std::string WorkerServer::ws_address() const { return impl_->ws_server ? impl_->ws_server->address() : std::string(); }
const std::string& WorkerServer::id() const noexcept { return impl_->engine.id(); }
WorkerStats WorkerServer::stats() const { return impl_->engine.stats(); }
TaskEngineStats WorkerServer::task_stats() const { return impl_->tasks.stats(); }
void WorkerServer::set_added_delay(Nanos delay_ns) { impl_->engine.set_added_delay(delay_ns); }
void WorkerServer::drain(Nanos grace_ns) { impl_->drain(grace_ns); }

}  // namespace pathbench
