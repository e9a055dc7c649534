#include "wire/query_codec.h"

namespace pathbench {

void to_proto(const Query& q, std::size_t padding_bytes, v1::QueryRequest& out) {
  out.set_kind(static_cast<v1::QueryKind>(q.kind));
  out.set_from_epoch_s(q.from_epoch_s);
  out.set_to_epoch_s(q.to_epoch_s);
  out.set_category_id(q.category_id);
  out.set_minute_from(q.minute_from);
  out.set_minute_to(q.minute_to);
  out.set_sale_id(q.sale_id);
  if (out.padding().size() != padding_bytes) out.mutable_padding()->assign(padding_bytes, '\0');
}

bool from_proto(const v1::QueryRequest& in, Query& out, std::string& bad_field) {
  switch (in.kind()) {
    case v1::QUERY_KIND_ECHO: out.kind = QueryKind::echo; break;
    case v1::QUERY_KIND_POINT: out.kind = QueryKind::point; break;
    case v1::QUERY_KIND_HEAVY: out.kind = QueryKind::heavy; break;
    default: bad_field = "kind"; return false;
  }
  out.from_epoch_s = in.from_epoch_s();
  out.to_epoch_s = in.to_epoch_s();
  out.category_id = in.category_id();
  out.minute_from = in.minute_from();
  out.minute_to = in.minute_to();
  out.sale_id = in.sale_id();
  return true;
}

Outcome outcome_from_status(grpc::StatusCode code) noexcept {
  switch (code) {
    case grpc::StatusCode::OK: return Outcome::ok;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return Outcome::timeout;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return Outcome::rejected;
    case grpc::StatusCode::UNAVAILABLE: return Outcome::unavailable;
    case grpc::StatusCode::INVALID_ARGUMENT: return Outcome::invalid_argument;
    case grpc::StatusCode::CANCELLED: return Outcome::transport_error;
    default: return Outcome::server_error;
  }
}

Hops hops_from(const v1::QueryReply& r) noexcept {
  return Hops{r.balancer_ns(), r.worker_total_ns(), r.worker_queue_ns(), r.worker_sql_ns()};
}

}  // namespace pathbench
