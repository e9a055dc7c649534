// Pieces shared by the gRPC paths (grpc_unary, grpc_stream): the Query <-> protobuf mapping,
// status -> Outcome, hops from a reply, channels, and where a path's channels point.
#pragma once
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "db/query.h"
#include "measure/outcome.h"
#include "measure/recorder.h"
#include "pathbench.pb.h"
#include "scenario/scenario.h"

namespace pathbench {

class Topology;

void to_proto(const Query& query, std::size_t padding_bytes, v1::QueryRequest& out);
// Fails with the name of the offending field (for INVALID_ARGUMENT) when the kind is unknown.
bool from_proto(const v1::QueryRequest& in, Query& out, std::string& bad_field);

Outcome outcome_from_status(grpc::StatusCode code) noexcept;
Hops hops_from(const v1::QueryReply& reply) noexcept;

// A channel of its own (not sharing a TCP connection with other channels to the same target).
std::shared_ptr<grpc::Channel> make_channel(const std::string& address, int index);

// Where a path's clients connect: the balancer, or (direct) the workers, in order.
std::vector<std::string> path_targets(const PathSpec& spec, Topology& topology);

// Waits (blocking, bounded) until `channel` is connected. Returns "" or the reason.
std::string wait_connected(grpc::Channel& channel, const std::string& address, Nanos timeout_ns);

// Wire request ids on streams carry the load generator's (slot, id): id << 24 | slot.
inline constexpr int kSlotBits = 24;
inline std::uint64_t wire_id(std::uint32_t slot, std::uint64_t id) noexcept { return id << kSlotBits | slot; }
inline std::uint32_t slot_of(std::uint64_t wire) noexcept { return static_cast<std::uint32_t>(wire & ((1u << kSlotBits) - 1)); }
inline std::uint64_t id_of(std::uint64_t wire) noexcept { return wire >> kSlotBits; }

}  // namespace pathbench
