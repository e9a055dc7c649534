// Unary forwarding (Query, and the task path's Task): one client call to the chosen worker per
// request, with the caller's deadline (or the default), retried once elsewhere when the worker
// could not be reached.
#include <fmt/format.h>

#include "roles/balancer_impl.h"
#include "roles/query_engine.h"

namespace pathbench {

using namespace balancer_detail;

namespace {

// The worker call each forwarded RPC makes.
template <class Callback>
void start_call(v1::Worker::Stub& stub, grpc::ClientContext* context, UnaryForward* f, Callback&& done) {
  stub.async()->Query(context, f->request, &f->worker_reply, std::forward<Callback>(done));
}
template <class Callback>
void start_call(v1::Worker::Stub& stub, grpc::ClientContext* context, TaskForward* f, Callback&& done) {
  stub.async()->Task(context, f->request, &f->worker_reply, std::forward<Callback>(done));
}

}  // namespace

grpc::ServerUnaryReactor* BalancerServer::Impl::Query(grpc::CallbackServerContext* context, const QueryRequest* request,
                                                      QueryReply* reply) {
  return accept_unary(context, request, reply);
}

grpc::ServerUnaryReactor* BalancerServer::Impl::Task(grpc::CallbackServerContext* context,
                                                     const v1::TaskRequest* request, v1::TaskReply* reply) {
  return accept_unary(context, request, reply);
}

template <class Request, class Reply>
grpc::ServerUnaryReactor* BalancerServer::Impl::accept_unary(grpc::CallbackServerContext* context,
                                                             const Request* request, Reply* reply) {
  counters.received.fetch_add(1, std::memory_order_relaxed);
  auto* reactor = context->DefaultReactor();
  auto* f = new UnaryForwardOf<Request, Reply>{this, reactor, request, reply, {}, {}, {}, 0, now_ns()};
  f->deadline = context->deadline() == std::chrono::system_clock::time_point::max()
                    ? deadline_after(options.default_deadline_ns)
                    : context->deadline();
  f->deadline_ns = steady_deadline_ns(f->deadline, f->received_ns);
  unary_in_flight.fetch_add(1);
  forward(f);
  return reactor;
}

template <class Forward>
void BalancerServer::Impl::forward(Forward* f) {
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
  start_call(*backends[static_cast<std::size_t>(f->backend)].stub, &*f->context, f,
             [f](grpc::Status status) { f->balancer->on_forwarded(f, std::move(status)); });
}

template <class Forward>
void BalancerServer::Impl::on_forwarded(Forward* f, grpc::Status status) {
  core.release(f->backend, classify(status.error_code()));
  // A worker that could not be reached never saw the request (forward_table.h's retry once).
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && may_forward_again(f->attempts, now_ns(), f->deadline_ns)) {
    forward(f);
    return;
  }
  if (status.ok()) {
    f->reply->Swap(&f->worker_reply);
    f->reply->set_balancer_ns(now_ns() - f->received_ns);
  }
  finish(f, status);
}

template <class Forward>
void BalancerServer::Impl::finish(Forward* f, const grpc::Status& status) {
  f->reactor->Finish(status);
  delete f;
  unary_in_flight.fetch_sub(1);
}

grpc::ServerUnaryReactor* BalancerServer::Impl::Shape(grpc::CallbackServerContext* context,
                                                      const v1::ShapeRequest* request, v1::DatasetShape* reply) {
  auto* reactor = context->DefaultReactor();
  const auto states = core.snapshot();  // rare (once per run): allocating is fine
  std::size_t chosen = 0;
  while (chosen < states.size() && states[chosen].ejected) ++chosen;
  if (chosen == backends.size()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "balancer: no healthy worker"));
    return reactor;
  }
  auto call = std::make_shared<grpc::ClientContext>();
  const auto at_most = deadline_after(2 * kNanosPerSecond);
  call->set_deadline(std::min(context->deadline(), at_most));
  backends[chosen].stub->async()->Shape(call.get(), request, reply,
                                        [reactor, call](grpc::Status status) { reactor->Finish(status); });
  return reactor;
}

}  // namespace pathbench
