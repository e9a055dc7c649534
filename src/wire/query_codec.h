// The QueryRequest / QueryReply wire contract (proto/pathbench.proto) as every front and client
// uses it: Query <-> protobuf, status -> Outcome, the servers' hops from a reply, and the wire
// ids that carry the load generator's (slot, id). gRPC status codes are the status vocabulary of
// every transport (WebSocket and queue replies carry them too).
#pragma once
#include <grpcpp/support/status_code_enum.h>

#include <cstdint>
#include <string>

#include "core/outcome.h"
#include "db/query.h"
#include "pathbench.pb.h"

namespace pathbench {

void to_proto(const Query& query, std::size_t padding_bytes, v1::QueryRequest& out);
// Fails with the name of the offending field (for INVALID_ARGUMENT) when the kind is unknown.
bool from_proto(const v1::QueryRequest& in, Query& out, std::string& bad_field);

Outcome outcome_from_status(grpc::StatusCode code) noexcept;
Hops hops_from(const v1::QueryReply& reply) noexcept;

// Wire request ids on streams carry the load generator's (slot, id): id << 24 | slot.
inline constexpr int kSlotBits = 24;
inline std::uint64_t wire_id(std::uint32_t slot, std::uint64_t id) noexcept { return id << kSlotBits | slot; }
inline std::uint32_t slot_of(std::uint64_t wire) noexcept { return static_cast<std::uint32_t>(wire & ((1u << kSlotBits) - 1)); }
inline std::uint64_t id_of(std::uint64_t wire) noexcept { return wire >> kSlotBits; }

}  // namespace pathbench
