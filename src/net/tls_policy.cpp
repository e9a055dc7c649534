#include "net/tls_policy.h"

#include <fmt/format.h>

#include <atomic>
#include <mutex>

namespace pathbench::net {

namespace {

std::atomic<bool> g_plaintext_allowed{false};
std::mutex g_client_mu;
std::shared_ptr<const TlsMaterial> g_client_tls;  // under g_client_mu

}  // namespace

void set_plaintext_off_loopback_allowed(bool allowed) noexcept { g_plaintext_allowed.store(allowed); }
bool plaintext_off_loopback_allowed() noexcept { return g_plaintext_allowed.load(); }

void check_listen_security(std::string_view what, std::string_view listen, bool tls) {
  std::string warning;
  std::string refusal = plaintext_listen_refusal(what, listen, tls, plaintext_off_loopback_allowed(), &warning);
  if (!refusal.empty()) throw PlaintextRefused(refusal);
  if (!warning.empty()) fmt::print(stderr, "pathbench: {}\n", warning);
}

void set_client_tls(std::shared_ptr<const TlsMaterial> tls) {
  std::lock_guard lock(g_client_mu);
  g_client_tls = std::move(tls);
}

std::shared_ptr<const TlsMaterial> client_tls() {
  std::lock_guard lock(g_client_mu);
  return g_client_tls;
}

}  // namespace pathbench::net
