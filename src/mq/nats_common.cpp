#include "mq/nats_common.h"

#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "core/url.h"

namespace pathbench::mq::detail {

namespace {

// The host of a nats URL ("tls://host:port", "nats://user:pass@host:port"), brackets removed; "" when none.
std::string url_host(const std::string& url) {
  std::string_view rest(url);
  if (auto scheme = rest.find("://"); scheme != std::string_view::npos) rest.remove_prefix(scheme + 3);
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  rest = rest.substr(0, rest.find_first_of("/,"));
  if (!rest.empty() && rest.front() == '[') return std::string(rest.substr(1, rest.find(']') - 1));
  return std::string(rest.substr(0, rest.rfind(':')));
}

bool is_ip_address(const std::string& host) {
  return host.find(':') != std::string::npos || host.find_first_not_of("0123456789.") == std::string::npos;
}

}  // namespace

std::string nats_error_text(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail && *detail && text.find(detail) == std::string::npos) text += fmt::format(" ({})", detail);
  return text;
}

natsOptions* nats_options(const Endpoint& endpoint, const std::string& name, bool send_asap, std::string* error) {
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) {
    *error = "nats: out of memory";
    return nullptr;
  }
  natsOptions_SetURL(opts, endpoint.url.c_str());
  natsOptions_SetName(opts, name.c_str());
  natsOptions_SetTimeout(opts, nats_ms(endpoint.timeout_ns));  // connect bound
  natsOptions_SetAllowReconnect(opts, true);
  natsOptions_SetMaxReconnect(opts, -1);
  natsOptions_SetReconnectWait(opts, 250);
  if (send_asap) natsOptions_SetSendAsap(opts, true);
  const TlsFiles& tls = endpoint.tls;
  if (endpoint.url.rfind("tls://", 0) == 0 || !tls.empty()) {
    auto fail = [&](const char* what, natsStatus s) {
      *error = fmt::format("nats at {}: {}: {}", redact_urls(endpoint.url), what, nats_error_text(s));
      natsOptions_Destroy(opts);
      return nullptr;
    };
    if (natsStatus s = natsOptions_SetSecure(opts, true); s != NATS_OK) return fail("TLS", s);
    if (!tls.ca.empty())
      if (natsStatus s = natsOptions_LoadCATrustedCertificates(opts, tls.ca.c_str()); s != NATS_OK)
        return fail("loading the TLS CA file", s);
    if (!tls.cert.empty() || !tls.key.empty())
      if (natsStatus s = natsOptions_LoadCertificatesChain(opts, tls.cert.c_str(), tls.key.c_str()); s != NATS_OK)
        return fail("loading the TLS cert/key files", s);
    const std::string host = tls.server_name.empty() ? url_host(endpoint.url) : tls.server_name;
    if (!host.empty() && (!tls.server_name.empty() || !is_ip_address(host)))
      if (natsStatus s = natsOptions_SetExpectedHostname(opts, host.c_str()); s != NATS_OK) return fail("TLS", s);
  }
  return opts;
}

NatsGate* new_nats_gate() {
  static std::mutex list_mutex;
  static std::vector<std::unique_ptr<NatsGate>> gates;
  std::lock_guard lock(list_mutex);
  gates.push_back(std::make_unique<NatsGate>());
  return gates.back().get();
}

void nats_fail_all_on_disconnect(natsConnection*, void* closure) {
  auto* gate = static_cast<NatsGate*>(closure);
  std::lock_guard lock(gate->mutex);
  if (gate->book) gate->book->fail_all(Outcome::transport_error);
}

}  // namespace pathbench::mq::detail
