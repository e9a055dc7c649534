#include "paths/registry.h"

#include <algorithm>

#include "paths/tcp_echo.h"

namespace pathbench {

namespace {

const std::vector<PathInfo>& table() {
  static const std::vector<PathInfo> paths{
      {"tcp_echo", "raw TCP ping-pong with an in-process echo server: the floor, no query", {"direct"}, false,
       &create_tcp_echo},
  };
  return paths;
}

}  // namespace

std::span<const PathInfo> path_registry() { return table(); }

const PathInfo* find_path(std::string_view kind) noexcept {
  auto& paths = table();
  auto it = std::find_if(paths.begin(), paths.end(), [&](const PathInfo& p) { return p.kind == kind; });
  return it == paths.end() ? nullptr : &*it;
}

}  // namespace pathbench
