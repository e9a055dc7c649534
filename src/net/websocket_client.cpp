#include <fmt/format.h>

#include <stdexcept>

#include "core/host_port.h"
#include "net/websocket_channel.h"

namespace pathbench::net {

using namespace ws_detail;

namespace {

template <class Next>
void connect_channel(asio::io_context& io, const HostPort& address, const std::string& host_port, const std::string& target,
                     const WsLimits& limits, std::shared_ptr<ssl::context> tls_context, std::string server_name,
                     WsChannel::Callbacks callbacks, std::function<void(std::shared_ptr<WsChannel>, std::string)> done) {
  using Channel = BeastChannel<Next>;
  std::shared_ptr<Channel> channel;
  if constexpr (kTls<Next>)
    channel = std::make_shared<Channel>(tls_context, typename Channel::Stream(asio::make_strand(io), *tls_context), target,
                                        std::move(callbacks), limits, nullptr);
  else
    channel = std::make_shared<Channel>(nullptr, typename Channel::Stream(asio::make_strand(io)), target,
                                        std::move(callbacks), limits, nullptr);
  // Addresses here are numeric or names from the scenario; resolving is quick and bounded by
  // the resolver's own timeouts (it runs before the handshake timer starts).
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(address.host, std::to_string(address.port), ec);
  if (ec) {
    asio::post(channel->executor(), [channel, done = std::move(done), host_port, ec] {
      done(nullptr, fmt::format("cannot resolve {}: {}", host_port, ec.message()));
    });
    return;
  }
  asio::dispatch(channel->executor(), [channel, endpoints, host_port, server_name = std::move(server_name),
                                       done = std::move(done)]() mutable {
    channel->connect(endpoints, host_port, std::move(server_name), [channel, done = std::move(done)](std::string error) {
      if (!error.empty()) return done(nullptr, std::move(error));
      channel->start();
      done(channel, "");
    });
  });
}

}  // namespace

void ws_connect(asio::io_context& io, const std::string& host_port, const std::string& target, const WsLimits& limits,
                const TlsMaterial* tls, WsChannel::Callbacks callbacks,
                std::function<void(std::shared_ptr<WsChannel>, std::string)> done) {
  const auto parsed = parse_host_port(host_port);
  if (!parsed) {
    asio::post(io, [done = std::move(done), host_port] { done(nullptr, fmt::format("\"{}\" is not host:port", host_port)); });
    return;
  }
  if (!tls)
    return connect_channel<PlainStream>(io, *parsed, host_port, target, limits, nullptr, {}, std::move(callbacks),
                                        std::move(done));
  std::shared_ptr<ssl::context> context;
  try {
    context = make_tls_context(*tls, false, "WebSocket client " + ws_url(true, host_port, target));
  } catch (const std::exception& e) {
    asio::post(io, [done = std::move(done), error = std::string(e.what())] { done(nullptr, error); });
    return;
  }
  connect_channel<TlsStream>(io, *parsed, host_port, target, limits, std::move(context),
                             tls->server_name.empty() ? parsed->host : tls->server_name, std::move(callbacks),
                             std::move(done));
}

}  // namespace pathbench::net
