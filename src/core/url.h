// Broker and database URLs as scenarios and command lines write them:
//   scheme://[user[:password]@]host[:port][/path]
// The one parser: the scenario loader validates with it and the backends connect with what it
// returns, so a URL that `validate` accepts is one the run can use. User info never leaves the
// process: redacted() and redact_urls() put "***" in its place for everything printed or stored.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pathbench {

struct Url {
  std::string scheme;    // lower case, e.g. "amqp"
  std::string user;      // percent-decoded; empty when absent
  std::string password;  // percent-decoded; empty when absent
  bool has_user_info = false;
  std::string host;      // never empty; brackets of an IPv6 literal removed
  std::uint16_t port = 0;
  std::string path;      // after the authority, percent-decoded, without the leading '/'; "" when absent

  // The URL with any user info replaced by "***" (safe to print and store).
  std::string redacted() const;
};

// Parses `text`. `default_port` applies when the URL names none (0: a port is required).
// Returns nothing, with the reason in `why`, when the scheme, host or port is missing or bad.
std::optional<Url> parse_url(std::string_view text, std::uint16_t default_port = 0, std::string* why = nullptr);

// The port a scheme implies when a URL names none (amqp 5672, amqps 5671, nats/tls 4222,
// postgres/postgresql 5432); 0 when the scheme has no default (tcp).
std::uint16_t default_port_of(std::string_view scheme) noexcept;

// Whether a broker URL's scheme asks for TLS: tls:// (NATS), amqps:// (RabbitMQ), tcps:// (the
// embedded broker's native protocol).
bool is_tls_url(std::string_view url) noexcept;

// `text` with the user info of every "scheme://user[:password]@" in it replaced by "***":
// for error messages and result columns that may quote a URL.
std::string redact_urls(std::string_view text);

}  // namespace pathbench
