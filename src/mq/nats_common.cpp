#include "mq/nats_common.h"

#include <vector>

namespace pathbench::mq::detail {

natsOptions* nats_options(const Endpoint& endpoint, const std::string& name, bool send_asap) {
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) return nullptr;
  natsOptions_SetURL(opts, endpoint.url.c_str());
  natsOptions_SetName(opts, name.c_str());
  natsOptions_SetTimeout(opts, nats_ms(endpoint.timeout_ns));  // connect bound
  natsOptions_SetAllowReconnect(opts, true);
  natsOptions_SetMaxReconnect(opts, -1);
  natsOptions_SetReconnectWait(opts, 250);
  if (send_asap) natsOptions_SetSendAsap(opts, true);
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
