#include "net/grpc_credentials.h"

namespace pathbench::net {

std::shared_ptr<grpc::ServerCredentials> grpc_server_credentials(const TlsMaterial* tls) {
  if (!tls) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = tls->ca_pem;
  options.pem_key_cert_pairs.push_back({tls->key_pem, tls->cert_pem});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> grpc_channel_credentials(const TlsMaterial* tls) {
  if (!tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = tls->ca_pem;
  options.pem_private_key = tls->key_pem;
  options.pem_cert_chain = tls->cert_pem;
  return grpc::SslCredentials(options);
}

std::shared_ptr<grpc::Channel> make_grpc_channel(const std::string& address, const TlsMaterial* tls,
                                                 grpc::ChannelArguments args) {
  if (tls && !tls->server_name.empty()) args.SetSslTargetNameOverride(tls->server_name);
  return grpc::CreateCustomChannel(address, grpc_channel_credentials(tls), args);
}

}  // namespace pathbench::net
