#include "paths/grpc_common.h"

#include <fmt/format.h>

#include "net/grpc_credentials.h"
#include "net/tls_policy.h"
#include "paths/endpoints.h"

namespace pathbench {

std::shared_ptr<grpc::Channel> make_channel(const std::string& address, int index) {
  grpc::ChannelArguments args;
  // Channels with different arguments never share a subchannel, so `connections = N` really
  // means N TCP connections.
  args.SetInt("pathbench.channel_index", index);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(16 << 20);
  // Per-call cost (issue 16, measured with bench/compare_peers.py a: client CPU per request
  // 11.8 -> 10.4 us): the minimal filter stack (no census, load reporting, message-size or idle
  // filters) with the deadline filter kept, so a call still ends at its deadline on the client;
  // no retry filter (pathbench counts a failure as a failure; the balancer retries by itself);
  // no BDP probing pings (small messages, loopback or LAN).
  args.SetInt(GRPC_ARG_MINIMAL_STACK, 1);
  args.SetInt(GRPC_ARG_ENABLE_DEADLINE_CHECKS, 1);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  return net::make_grpc_channel(address, net::client_tls().get(), std::move(args));
}

std::vector<std::string> path_targets(const PathSpec& spec, Endpoints& endpoints) {
  if (spec.via == "balancer") return {endpoints.balancer_address()};
  return endpoints.worker_addresses();
}

ClientChannels::ClientChannels(const std::vector<std::string>& targets, int connections, int thread_index) {
  for (int i = 0; i < connections; ++i) {
    const std::string& target = targets[static_cast<std::size_t>(thread_index * connections + i) % targets.size()];
    channels.emplace_back(target, make_channel(target, thread_index * 1000 + i));
    stubs.push_back(v1::Worker::NewStub(channels.back().second));
  }
}

std::string ClientChannels::connect(Nanos timeout_ns) {
  for (auto& [address, channel] : channels)
    if (auto error = wait_connected(*channel, address, timeout_ns); !error.empty()) return error;
  return "";
}

std::string wait_connected(grpc::Channel& channel, const std::string& address, Nanos timeout_ns) {
  auto deadline = std::chrono::system_clock::now() + std::chrono::nanoseconds(timeout_ns);
  if (channel.WaitForConnected(deadline)) return "";
  return fmt::format("cannot connect to grpc://{} within {} ms", address, timeout_ns / kNanosPerMilli);
}

}  // namespace pathbench
