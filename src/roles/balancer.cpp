// The balancer's lifetime: backends, the gRPC server, the housekeeping thread, the WebSocket
// front, and stopping them in order. Forwarding is in balancer_unary.cpp and balancer_stream.cpp,
// health checks in balancer_health.cpp (see roles/balancer_impl.h).
#include <fmt/format.h>

#include <stdexcept>

#include "net/grpc_credentials.h"
#include "roles/balancer_impl.h"

namespace pathbench {

using namespace balancer_detail;

BalancerServer::Impl::Impl(const BalancerOptions& o) : options(o), core(o.workers, o.routing) {
  if (o.workers.empty()) throw std::runtime_error("balancer: no workers to balance over");
  for (std::size_t i = 0; i < o.workers.size(); ++i) {
    Backend b;
    b.address = o.workers[i];
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // Reconnect quickly after a worker comes back, so re-admission is prompt.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    b.channel = net::make_grpc_channel(b.address, o.tls.get(), std::move(args));
    b.stub = v1::Worker::NewStub(b.channel);
    b.health = grpc::health::v1::Health::NewStub(b.channel);
    backends.push_back(std::move(b));
  }
  streams.resize(backends.size());

  net::GrpcServerOptions grpc_options;
  grpc_options.listen = o.listen;
  grpc_options.what = "balancer";
  grpc_options.tls = o.tls;
  server = std::make_unique<net::GrpcServer>(grpc_options,
                                             std::vector<net::GrpcService>{{this, v1::Worker::service_full_name()}});
  housekeeping = std::thread([this] { housekeeping_loop(); });
  if (!o.ws_listen.empty() && !o.worker_ws.empty()) {
    BalancerWsOptions ws;
    ws.listen = o.ws_listen;
    ws.worker_ws = o.worker_ws;
    ws.connections_per_worker = o.streams_per_worker;
    ws.default_deadline_ns = o.default_deadline_ns;
    ws.tls = o.tls;
    try {
      ws_front = std::make_unique<BalancerWsFront>(ws, core, counters);
    } catch (...) {
      stop_grpc();
      throw;
    }
  }
}

BalancerServer::Impl::~Impl() {
  ws_front.reset();  // it uses the core and the counters
  stop_grpc();
}

void BalancerServer::Impl::stop_grpc() {
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
