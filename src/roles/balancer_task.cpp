// Task forwarding: the Task RPC goes to the worker the core picks, exactly as a unary Query
// does (balancer_unary.cpp): the caller's deadline, retry once elsewhere on UNAVAILABLE before
// any answer, admission and health verdicts from the same BalancerCore.
#include <fmt/format.h>

#include "roles/balancer_impl.h"
#include "roles/query_engine.h"

namespace pathbench {

using namespace balancer_detail;

grpc::ServerUnaryReactor* BalancerServer::Impl::Task(grpc::CallbackServerContext* context, const v1::TaskRequest* request,
                                                     v1::TaskReply* reply) {
  counters.received.fetch_add(1, std::memory_order_relaxed);
  auto* reactor = context->DefaultReactor();
  auto* f = new TaskForward{this, reactor, request, reply, {}, {}, {}, 0, now_ns()};
  f->deadline = context->deadline() == std::chrono::system_clock::time_point::max()
                    ? deadline_after(options.default_deadline_ns)
                    : context->deadline();
  f->deadline_ns = steady_deadline_ns(f->deadline, f->received_ns);
  unary_in_flight.fetch_add(1);
  forward_task(f);
  return reactor;
}

void BalancerServer::Impl::forward_task(TaskForward* f) {
  auto finish = [this](TaskForward* t, const grpc::Status& status) {
    t->reactor->Finish(status);
    delete t;
    unary_in_flight.fetch_sub(1);
  };
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
  if (++f->attempts == 1) counters.forwarded.fetch_add(1, std::memory_order_relaxed);
  f->context.emplace();
  f->context->set_deadline(f->deadline);
  backends[static_cast<std::size_t>(f->backend)].stub->async()->Task(
      &*f->context, f->request, &f->worker_reply,
      [f](grpc::Status status) { f->balancer->on_task_forwarded(f, std::move(status)); });
}

void BalancerServer::Impl::on_task_forwarded(TaskForward* f, grpc::Status status) {
  core.release(f->backend, classify(status.error_code()));
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      may_forward_again(f->attempts, now_ns(), f->deadline_ns)) {
    forward_task(f);
    return;
  }
  if (status.ok()) {
    f->reply->Swap(&f->worker_reply);
    f->reply->set_balancer_ns(now_ns() - f->received_ns);
  }
  f->reactor->Finish(status);
  delete f;
  unary_in_flight.fetch_sub(1);
}

}  // namespace pathbench
