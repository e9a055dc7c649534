#include "core/url.h"

#include <cctype>

#include "core/host_port.h"

namespace pathbench {

namespace {

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2])))
      return false;
    out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return true;
}

}  // namespace

std::string Url::redacted() const {
  std::string text = scheme;
  text += "://";
  if (has_user_info) text += "***@";
  const bool v6 = host.find(':') != std::string::npos;
  if (v6) text += '[';
  text += host;
  if (v6) text += ']';
  if (port != 0) {
    text += ':';
    text += std::to_string(port);
  }
  if (!path.empty()) {
    text += '/';
    text += path;
  }
  return text;
}

std::optional<Url> parse_url(std::string_view text, std::uint16_t default_port, std::string* why) {
  auto bad = [why](const char* reason) -> std::optional<Url> {
    if (why) *why = reason;
    return std::nullopt;
  };
  Url url;
  for (char c : text)
    if (std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'')
      return bad("spaces and quotes must be %-escaped in a URL");
  const auto sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0)
    return bad("expected scheme://host:port");
  for (char c : text.substr(0, sep)) {
    if (!std::isalpha(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.')
      return bad("the scheme has characters a URL scheme cannot have");
    url.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string_view rest = text.substr(sep + 3);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos && !percent_decode(rest.substr(slash + 1), url.path))
    return bad("bad %-escape in the path");
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    url.has_user_info = true;
    std::string_view info = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = info.find(':');
    if (!percent_decode(info.substr(0, colon), url.user) ||
        (colon != std::string_view::npos && !percent_decode(info.substr(colon + 1), url.password)))
      return bad("bad %-escape in the user info");
  }
  if (authority.empty()) return bad("no host");
  // host:port, or a host alone when a default port applies ("[::1]" or "name").
  const bool has_port = !authority.empty() && authority.back() != ']' && authority.rfind(':') != std::string_view::npos &&
                        (authority.front() != '[' || authority.rfind(']') < authority.rfind(':'));
  if (has_port) {
    auto hp = parse_host_port(authority);
    if (!hp) return bad("expected host:port with a port in 1..65535");
    url.host = hp->host;
    url.port = hp->port;
  } else {
    if (default_port == 0) return bad("no port (expected host:port)");
    std::string_view host = authority;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty()) return bad("no host");
    url.host = std::string(host);
    url.port = default_port;
  }
  for (char c : url.host)
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '@')
      return bad("the host has characters a host name cannot have");
  return url;
}

std::uint16_t default_port_of(std::string_view scheme) noexcept {
  if (scheme == "amqp") return 5672;
  if (scheme == "amqps") return 5671;
  if (scheme == "nats" || scheme == "tls") return 4222;
  if (scheme == "postgres" || scheme == "postgresql") return 5432;
  return 0;
}

bool is_tls_url(std::string_view url) noexcept {
  for (std::string_view scheme : {"tls://", "amqps://", "tcps://"})
    if (url.starts_with(scheme)) return true;
  return false;
}

std::string redact_urls(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const auto sep = text.find("://", pos);
    if (sep == std::string_view::npos) break;
    const std::size_t start = sep + 3;
    // Scan to the end of the URL (whitespace or a quote) and redact up to the last '@' in it:
    // a password may hold ',', '/' or other characters a parser would refuse, and redacting
    // too much is harmless where too little leaks a secret.
    std::size_t end = start;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) && text[end] != '"' &&
           text[end] != '\'')
      ++end;
    const auto at = text.substr(start, end - start).rfind('@');
    out.append(text.substr(pos, start - pos));
    if (at != std::string_view::npos) {
      out += "***";
      out.append(text.substr(start + at, end - start - at));
    } else {
      out.append(text.substr(start, end - start));
    }
    pos = end;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace pathbench
