// What the two nats.c backends (mq/nats.cpp: core NATS request/reply; mq/jetstream.cpp: JetStream
// one-way messaging) share: connection options, the millisecond bounds nats.c takes, and the gate
// its callbacks reach a requester through.
#pragma once
#include <nats/nats.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "mq/mq.h"
#include "mq/reply_book.h"

namespace pathbench::mq::detail {

// nats.c's timeouts are whole milliseconds; never 0 (which would mean "no wait").
inline std::int64_t nats_ms(Nanos ns) { return std::max<std::int64_t>(ns / kNanosPerMilli, 1); }

// Options for one connection to endpoint.url named `name`: connect within endpoint.timeout_ns,
// then reconnect forever every 250 ms (the server coming back is the recovery under test);
// `send_asap` writes each publish at once instead of waiting for the flusher thread; TLS from
// endpoint.tls (mq.h). Null with `*error` set ("nats at URL: ...") when nats.c is out of memory
// or a TLS file cannot be loaded. The caller destroys them.
natsOptions* nats_options(const Endpoint& endpoint, const std::string& name, bool send_asap, std::string* error);

// natsStatus_GetText(s), followed by nats.c's last error detail for this thread when it says more
// (a refused TLS handshake: the OpenSSL reason).
std::string nats_error_text(natsStatus s);

// nats.c may still be inside a subscription or connection callback after Unsubscribe/Close
// return, and nats.c 3.4's header has no way to learn when that callback has finished. So callbacks
// reach the requester through a Gate that is never freed while the process runs (kept in a
// process-wide list, a few dozen bytes per requester ever made); closing the gate under its
// mutex is what guarantees no callback touches the requester afterwards.
struct NatsGate {
  std::mutex mutex;
  std::shared_ptr<ReplyBook> book;  // null once closed
  std::size_t prefix_len = 0;       // core NATS replies: of "_INBOX.<unique>."
};
NatsGate* new_nats_gate();

// natsConnectionHandler for the disconnected callback, `closure` a NatsGate: every request in
// flight fails as a transport error.
void nats_fail_all_on_disconnect(natsConnection*, void* closure);

}  // namespace pathbench::mq::detail
