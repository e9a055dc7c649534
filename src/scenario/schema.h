// The scenario's keys, each declared once (schema.cpp) as a Field of scenario/fields.h: the
// loader reads and validates through these tables, serialize.cpp writes through them.
// Internal to the scenario layer.
#pragma once
#include <cstdint>
#include <span>

#include "scenario/fields.h"
#include "scenario/scenario.h"

namespace pathbench::scenario_fields {

// Limits shared with the command-line overrides (loader.cpp).
inline constexpr std::int64_t kMaxConcurrency = 1'000'000;
inline constexpr std::int64_t kMaxThreads = 256;
inline constexpr double kMaxRate = 10'000'000.0;

// The top-level keys and tables ([load] ... [knee]); [[fault]] and [[path]] are read by the
// loader (they need the path kinds and the whole scenario) from the element tables below.
std::span<const Field<Scenario>> top_level_fields();
std::span<const Field<FaultSpec>> fault_fields();  // one [[fault]]
std::span<const Field<PathSpec>> path_fields();    // one [[path]]

// [tls] and its role tables (schema_tls.cpp): files resolved and checked readable, and every
// identity in use has ca, cert and key.
const TableSpec<TlsConfig>& tls_table();

}  // namespace pathbench::scenario_fields
