// QueryStream forwarding: each client stream (ClientSide) is answered in completion order; its
// requests are multiplexed onto a few long-lived balancer -> worker streams per worker
// (BackendStream), whose ForwardTable maps the id each carries to the worker back to the client
// stream and the client's id. A request no stream could take is routed once more (retry once).
#include "roles/balancer_impl.h"

namespace pathbench {

using namespace balancer_detail;

grpc::ServerBidiReactor<QueryRequest, QueryReply>* BalancerServer::Impl::QueryStream(grpc::CallbackServerContext*) {
  auto side = std::make_shared<ClientSide>(*this);
  side->begin(side);
  return side.get();
}

void BalancerServer::Impl::forward_stream(const std::shared_ptr<ClientSide>& client, const QueryRequest& request) {
  counters.received.fetch_add(1, std::memory_order_relaxed);
  client->request_started();
  const Nanos now = now_ns();
  const Nanos deadline_ns = now + options.default_deadline_ns;
  for (int attempts = 1;; ++attempts) {
    auto pick = core.pick();
    if (pick.kind != BalancerCore::Pick::Kind::routed) {
      bool overloaded = pick.kind == BalancerCore::Pick::Kind::overloaded;
      (overloaded ? counters.rejected : counters.unavailable).fetch_add(1, std::memory_order_relaxed);
      client->reply(forward_error_reply(
          request.request_id(), static_cast<int>(overloaded ? grpc::StatusCode::RESOURCE_EXHAUSTED : grpc::StatusCode::UNAVAILABLE),
          overloaded ? "balancer: pending limit reached" : "balancer: no healthy worker"));
      return;
    }
    BackendStream* stream = stream_for(pick.backend);
    if (stream && stream->send(request, StreamForward{client, request.request_id(), now, deadline_ns, pick.backend})) {
      counters.forwarded.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    core.release(pick.backend, BackendResult::transport_failure);
    if (!may_forward_again(attempts, now_ns(), deadline_ns)) break;
  }
  counters.unavailable.fetch_add(1, std::memory_order_relaxed);
  client->reply(forward_error_reply(request.request_id(), static_cast<int>(grpc::StatusCode::UNAVAILABLE),
                                    "balancer: worker stream failed"));
}

BackendStream* BalancerServer::Impl::stream_for(int backend) {
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

namespace balancer_detail {

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

void BackendStream::begin(v1::Worker::Stub& stub) {
  client_.begin([&](grpc::ClientContext* context, Client* reactor) { stub.async()->QueryStream(context, reactor); });
}

bool BackendStream::send(const QueryRequest& request, StreamForward forward) {
  // In the table before the write, so the reply cannot arrive first.
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    id = pending_.add(std::move(forward));
  }
  if (client_.write([&](QueryRequest& slot) {
        slot.CopyFrom(request);
        slot.set_request_id(id);
      }))
    return true;
  // The stream is over. Its end may already have failed the request (then it is answered);
  // otherwise it was never sent and the caller routes it again.
  std::lock_guard lock(mutex_);
  return !pending_.erase(id);
}

void BackendStream::on_reply(QueryReply& reply) {
  std::optional<StreamForward> forward;
  {
    std::lock_guard lock(mutex_);
    forward = pending_.take(reply.request_id());
  }
  if (!forward) return;  // expired already; the client got its error
  balancer_.core.release(backend_, classify(static_cast<grpc::StatusCode>(reply.status().code())));
  QueryReply out = reply;
  out.set_request_id(forward->client_request_id);
  out.set_balancer_ns(now_ns() - forward->received_ns);
  forward->client->reply(std::move(out));
}

void BackendStream::expire(Nanos now) {
  std::vector<StreamForward> expired;  // every 50 ms, not per request: a fresh vector is fine
  {
    std::lock_guard lock(mutex_);
    pending_.take_expired(now, expired);
  }
  for (auto& f : expired) {
    balancer_.core.release(backend_, BackendResult::failure);
    f.client->reply(forward_error_reply(f.client_request_id, static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED),
                                        "balancer: worker did not answer in time"));
  }
}

void BackendStream::on_done() {
  std::vector<StreamForward> orphans;
  {
    std::lock_guard lock(mutex_);
    pending_.take_all(orphans);
  }
  // The worker's stream broke: everything on it fails now, and the worker is suspect.
  for (auto& f : orphans) {
    balancer_.core.release(backend_, BackendResult::transport_failure);
    f.client->reply(forward_error_reply(f.client_request_id, static_cast<int>(grpc::StatusCode::UNAVAILABLE),
                                        "balancer: worker stream broke"));
  }
  finished_.store(true, std::memory_order_release);
}

void BackendEvents::on_reply(QueryReply& reply) { stream->on_reply(reply); }
void BackendEvents::on_done(const grpc::Status&) { stream->on_done(); }

}  // namespace balancer_detail

}  // namespace pathbench
