#include "db/query.h"

namespace pathbench {

std::string_view to_string(QueryKind kind) noexcept {
  switch (kind) {
    case QueryKind::echo: return "echo";
    case QueryKind::point: return "point";
    case QueryKind::heavy: return "heavy";
  }
  return "unknown";  // only reachable through a cast of an out-of-range value
}

std::optional<QueryKind> query_kind_from_string(std::string_view name) noexcept {
  // Loop over kAllQueryKinds so a new kind needs only its to_string case.
  for (QueryKind kind : kAllQueryKinds) {
    if (to_string(kind) == name) return kind;
  }
  return std::nullopt;
}

}  // namespace pathbench
