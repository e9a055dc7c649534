// Housekeeping on the thread "pb-bal-health": grpc.health.v1 checks of every worker each
// health_interval (verdicts to BalancerCore), and the deadline sweep of the backend streams
// every kForwardSweepNs.
#include <pthread.h>

#include "roles/balancer_impl.h"

namespace pathbench {

using namespace balancer_detail;

namespace {

struct HealthCall {
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
};

}  // namespace

void BalancerServer::Impl::housekeeping_loop() {
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
    stop_cv.wait_for(lock, std::chrono::nanoseconds(kForwardSweepNs));
  }
}

void BalancerServer::Impl::check_health() {
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

}  // namespace pathbench
