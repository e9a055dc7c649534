#include "roles/balancer_ws.h"

#include <fmt/format.h>
#include <pthread.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>
#include <vector>

#include "net/websocket.h"
#include "pathbench.pb.h"

namespace pathbench {

namespace asio = boost::asio;

namespace {

constexpr int kUnavailable = 14, kDeadlineExceeded = 4, kResourceExhausted = 8;
constexpr Nanos kMinBackoffNs = 100 * kNanosPerMilli, kMaxBackoffNs = 1 * kNanosPerSecond;
// How long the balancer waits for its links to the workers' WebSocket fronts before serving anyway.
constexpr Nanos kLinksReadyWaitNs = 2 * kNanosPerSecond;

std::string error_reply(std::uint64_t request_id, int code, std::string_view message) {
  return forward_error_reply(request_id, code, message).SerializeAsString();
}

}  // namespace

struct BalancerWsFront::Impl final : net::WsHandler {
  // One balancer -> worker connection (a slot that is reconnected when it breaks).
  struct Link {
    int backend = 0;
    std::shared_ptr<net::WsChannel> channel;  // null while connecting or down
    bool connecting = false;
    Nanos backoff_ns = kMinBackoffNs;
    std::unique_ptr<asio::steady_timer> retry;
  };
  struct Pending : Forwarded<std::shared_ptr<net::WsChannel>> {
    Link* link = nullptr;
  };

  Impl(const BalancerWsOptions& o, BalancerCore& c, BalancerCounters& n)
      : server(), options(o), core(c), counters(n), sweep(backend_io) {
    if (o.worker_ws.size() != core.size())
      throw std::runtime_error(fmt::format("balancer: {} WebSocket worker addresses for {} workers", o.worker_ws.size(),
                                           core.size()));
    const int per_worker = std::max(1, o.connections_per_worker);
    for (std::size_t b = 0; b < o.worker_ws.size(); ++b)
      for (int i = 0; i < per_worker; ++i) {
        auto link = std::make_unique<Link>();
        link->backend = static_cast<int>(b);
        link->retry = std::make_unique<asio::steady_timer>(backend_io);
        links.push_back(std::move(link));
      }
    asio::post(backend_io, [this] {
      for (auto& link : links) connect(*link);
      schedule_sweep();
    });
    backend_thread = std::thread([this] {
      pthread_setname_np(pthread_self(), "pb-bal-wsb");
      backend_io.run();
    });
    // Serve once the links to the workers are open (bounded: a worker that is down does not
    // hold the balancer up; its links keep retrying). A client let in first would be told "no
    // connection to the worker" for every request of a run that has only started — and in a
    // closed loop those instant errors come back as fast as the loop turns, starving the
    // connects on a loaded machine (seen: 14,600 errors in a 300 ms run).
    for (const Nanos give_up_ns = now_ns() + kLinksReadyWaitNs;
         open_links.load() < static_cast<int>(links.size()) && now_ns() < give_up_ns;)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    net::WsServerOptions ws;
    ws.listen = o.listen;
    ws.thread_name = "pb-bal-ws";
    ws.limits.max_message_bytes = o.max_message_bytes;
    ws.tls = o.tls;
    try {
      server = std::make_unique<net::WsServer>(ws, *this);
    } catch (...) {
      stop_backend();
      throw;
    }
  }

  ~Impl() {
    server->stop();  // no more client messages after this
    stop_backend();
    // Both threads are joined: drop what refers to connections while their io_contexts live.
    pending.clear();
    failing.clear();
    for (auto& link : links) link->channel.reset();
  }

  void stop_backend() {
    asio::post(backend_io, [this] {
      stopping = true;
      sweep.cancel();
      for (auto& link : links) {
        link->retry->cancel();
        if (link->channel) link->channel->close(net::CloseCode::going_away, "balancer stopping");
      }
      fail_all(nullptr, kUnavailable, "balancer: stopping");
    });
    // Give the closing handshakes a moment, then stop regardless.
    const Nanos give_up_ns = now_ns() + 300 * kNanosPerMilli;
    while (now_ns() < give_up_ns && open_links.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    backend_io.stop();
    if (backend_thread.joinable()) backend_thread.join();
  }

  // ---- client side (the "pb-bal-ws" thread) ------------------------------------------------

  bool accepts(std::string_view target) const override { return target == "/query" || target == "/"; }

  void on_message(const std::shared_ptr<net::WsChannel>& client, std::string_view payload, bool binary) override {
    const Nanos received_ns = now_ns();
    if (!binary) return client->close(net::CloseCode::protocol_error, "binary frames only: a pathbench.v1.QueryRequest");
    auto request = std::make_shared<v1::QueryRequest>();
    if (!request->ParseFromArray(payload.data(), static_cast<int>(payload.size())))
      return client->close(net::CloseCode::protocol_error, "not a pathbench.v1.QueryRequest");
    counters.received.fetch_add(1, std::memory_order_relaxed);
    const Nanos budget_ns = request->timeout_ns() > 0 ? request->timeout_ns() : options.default_deadline_ns;
    route(client, std::move(request), received_ns, received_ns + budget_ns, 1);
  }

  // Any thread: asks the core for a worker and hands the request to the backend thread.
  void route(const std::shared_ptr<net::WsChannel>& client, std::shared_ptr<v1::QueryRequest> request, Nanos received_ns,
             Nanos deadline_ns, int attempt) {
    const auto pick = core.pick();
    if (pick.kind != BalancerCore::Pick::Kind::routed) {
      const bool overloaded = pick.kind == BalancerCore::Pick::Kind::overloaded;
      (overloaded ? counters.rejected : counters.unavailable).fetch_add(1, std::memory_order_relaxed);
      client->send(error_reply(request->request_id(), overloaded ? kResourceExhausted : kUnavailable,
                               overloaded ? "balancer: pending limit reached" : "balancer: no healthy worker"));
      return;
    }
    asio::post(backend_io, [this, client, request = std::move(request), received_ns, deadline_ns, attempt,
                            backend = pick.backend]() mutable {
      forward(client, std::move(request), received_ns, deadline_ns, attempt, backend);
    });
  }

  // ---- worker side (the "pb-bal-wsb" thread) -----------------------------------------------

  void forward(const std::shared_ptr<net::WsChannel>& client, std::shared_ptr<v1::QueryRequest> request,
               Nanos received_ns, Nanos deadline_ns, int attempt, int backend) {
    Link* link = open_link(backend);
    if (link == nullptr || stopping) {
      // Never reached the worker: a transport failure for the core, and one more try elsewhere.
      core.release(backend, BackendResult::transport_failure);
      if (!stopping && may_forward_again(attempt, now_ns(), deadline_ns))
        return route(client, std::move(request), received_ns, deadline_ns, attempt + 1);
      counters.unavailable.fetch_add(1, std::memory_order_relaxed);
      client->send(error_reply(request->request_id(), kUnavailable, "balancer: no connection to the worker"));
      return;
    }
    const std::uint64_t id = pending.add(Pending{{client, request->request_id(), received_ns, deadline_ns, backend}, link});
    // Sent once at most (a retry happens only when nothing was sent), so this counts requests.
    counters.forwarded.fetch_add(1, std::memory_order_relaxed);
    request->set_request_id(id);
    request->set_timeout_ns(std::max<Nanos>(1, deadline_ns - now_ns()));
    link->channel->send(request->SerializeAsString());
  }

  // A live connection to `backend`, round robin over its links.
  Link* open_link(int backend) {
    const std::size_t per_worker = links.size() / core.size();
    const std::size_t first = static_cast<std::size_t>(backend) * per_worker;
    for (std::size_t i = 0; i < per_worker; ++i) {
      Link& link = *links[first + (rotate++ % per_worker)];
      if (link.channel && link.channel->open()) return &link;
    }
    return nullptr;
  }

  void connect(Link& link) {
    if (stopping || link.connecting) return;
    link.connecting = true;
    net::WsChannel::Callbacks callbacks{
        [this, &link](const std::shared_ptr<net::WsChannel>&, std::string_view payload, bool) { on_reply(link, payload); },
        [this, &link](const std::shared_ptr<net::WsChannel>& channel, const std::string& reason) {
          on_link_closed(link, channel, reason);
        }};
    net::WsLimits limits;
    limits.max_message_bytes = options.max_message_bytes;
    limits.handshake_timeout_ns = 2 * kNanosPerSecond;
    net::ws_connect(backend_io, options.worker_ws[static_cast<std::size_t>(link.backend)], "/query", limits,
                    options.tls.get(), std::move(callbacks), [this, &link](std::shared_ptr<net::WsChannel> channel, std::string) {
                      link.connecting = false;
                      if (!channel) return retry_later(link);
                      if (stopping) return channel->close(net::CloseCode::going_away, "balancer stopping");
                      link.channel = std::move(channel);
                      link.backoff_ns = kMinBackoffNs;
                      open_links.fetch_add(1);
                    });
  }

  void retry_later(Link& link) {
    if (stopping) return;
    link.retry->expires_after(std::chrono::nanoseconds(link.backoff_ns));
    link.backoff_ns = std::min(kMaxBackoffNs, link.backoff_ns * 2);
    link.retry->async_wait([this, &link](boost::system::error_code ec) {
      if (!ec) connect(link);
    });
  }

  void on_reply(Link& link, std::string_view payload) {
    v1::QueryReply reply;
    if (!reply.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      // A worker that sends garbage is broken: drop the link (its requests fail with it).
      if (link.channel) link.channel->close(net::CloseCode::protocol_error, "not a pathbench.v1.QueryReply");
      return;
    }
    auto p = pending.take(reply.request_id());
    if (!p) return;  // expired already
    core.release(p->backend, backend_result_of_status(reply.status().code()));
    reply.set_request_id(p->client_request_id);
    reply.set_balancer_ns(now_ns() - p->received_ns);
    p->client->send(reply.SerializeAsString());
  }

  void on_link_closed(Link& link, const std::shared_ptr<net::WsChannel>& channel, const std::string& reason) {
    if (link.channel != channel) return;
    link.channel.reset();
    open_links.fetch_sub(1);
    fail_all(&link, kUnavailable, fmt::format("balancer: connection to the worker broke ({})", reason));
    retry_later(link);
  }

  // Everything pending on `link` (every link when null) fails with `code`.
  void fail_all(Link* link, int code, const std::string& message) {
    pending.take_if([link](const Pending& p) { return link == nullptr || p.link == link; }, failing);
    for (auto& p : failing) {
      core.release(p.backend, BackendResult::transport_failure);
      counters.unavailable.fetch_add(1, std::memory_order_relaxed);
      p.client->send(error_reply(p.client_request_id, code, message));
    }
    failing.clear();
  }

  void schedule_sweep() {
    sweep.expires_after(std::chrono::nanoseconds(kForwardSweepNs));
    sweep.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping) return;
      pending.take_expired(now_ns(), failing);
      for (auto& p : failing) {
        core.release(p.backend, BackendResult::failure);
        p.client->send(error_reply(p.client_request_id, kDeadlineExceeded, "balancer: the worker did not answer in time"));
      }
      failing.clear();
      schedule_sweep();
    });
  }

  // First, so it is destroyed last: handlers queued in backend_io may hold client connections,
  // whose io_context the server owns.
  std::unique_ptr<net::WsServer> server;
  const BalancerWsOptions options;
  BalancerCore& core;
  BalancerCounters& counters;
  asio::io_context backend_io;
  asio::executor_work_guard<asio::io_context::executor_type> work{backend_io.get_executor()};
  asio::steady_timer sweep;
  std::vector<std::unique_ptr<Link>> links;  // per worker, connections_per_worker in a row
  ForwardTable<Pending> pending;  // backend thread only
  std::vector<Pending> failing;   // scratch for the sweep and broken links, backend thread only
  std::size_t rotate = 0;
  bool stopping = false;
  std::atomic<int> open_links{0};
  std::thread backend_thread;
};

BalancerWsFront::BalancerWsFront(const BalancerWsOptions& options, BalancerCore& core, BalancerCounters& counters)
    : impl_(std::make_unique<Impl>(options, core, counters)) {}
BalancerWsFront::~BalancerWsFront() = default;
std::string BalancerWsFront::address() const { return impl_->server->address(); }

}  // namespace pathbench
