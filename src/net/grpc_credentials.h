// The one place gRPC credentials are made, for every server and channel in pathbench.
// With TLS material (core/tls_config.h): mutual TLS — the server presents its cert and requires
// and verifies a client certificate against ca (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
// a channel verifies the server against ca and presents its own cert. Without: plaintext.
#pragma once
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "core/tls_config.h"

namespace pathbench::net {

std::shared_ptr<grpc::ServerCredentials> grpc_server_credentials(const TlsMaterial* tls);
std::shared_ptr<grpc::ChannelCredentials> grpc_channel_credentials(const TlsMaterial* tls);

// A channel to `address` with `tls` (nullptr: plaintext) and the caller's arguments; sets the
// name to verify when tls->server_name is given.
std::shared_ptr<grpc::Channel> make_grpc_channel(const std::string& address, const TlsMaterial* tls,
                                                 grpc::ChannelArguments args = {});

}  // namespace pathbench::net
