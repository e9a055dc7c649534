#include "db/durability.h"

#include <fmt/format.h>

namespace pathbench {

const char* sqlite_durability_pragmas(std::string_view durability) noexcept {
  if (durability == "normal") return "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL";
  if (durability == "off") return "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF";
  return "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL";
}

std::vector<std::string> postgres_durability_args(const std::string& durability) {
  std::vector<std::string> args{"-c", "max_connections=400"};
  const bool off = durability == "off";
  for (std::string setting : {fmt::format("fsync={}", off ? "off" : "on"),
                              fmt::format("synchronous_commit={}", durability == "full" ? "on" : "off"),
                              fmt::format("full_page_writes={}", off ? "off" : "on")}) {
    args.emplace_back("-c");
    args.push_back(std::move(setting));
  }
  return args;
}

std::string postgres_session_url(const std::string& url, const std::string& durability) {
  if (durability == "full") return url;
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-c%20synchronous_commit%3Doff";
}

}  // namespace pathbench
