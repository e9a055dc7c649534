// The scenario as run, written through the same field tables the loader reads with
// (scenario/schema.cpp) into one nlohmann::json tree, printed as TOML or JSON.
// The JSON text keeps toml++'s json_formatter layout (`"key" : value`, 4-space indent) rather
// than nlohmann's dump(2): context.json embeds it and its readers (tests/test_paths.cpp) match
// that layout.
#include <sstream>

#include "core/url.h"
#include "scenario/fields.h"
#include "scenario/loader.h"
#include "scenario/schema.h"
#include "scenario/slo.h"

namespace pathbench {

namespace {

using namespace scenario_fields;

template <class T>
nlohmann::json write_array(std::span<const Field<T>> fields, const std::vector<T>& elements) {
  nlohmann::json array = nlohmann::json::array();
  for (const T& element : elements) {
    array.push_back(nlohmann::json::object());
    write_fields(fields, element, array.back());
  }
  return array;
}

// What is written is stored and printed: user info in any URL (a broker's password) becomes "***".
void redact(nlohmann::json& node) {
  if (node.is_string()) {
    node = redact_urls(node.get_ref<const std::string&>());
  } else if (node.is_structured()) {
    for (auto& child : node) redact(child);
  }
}

nlohmann::json to_json(const Scenario& s) {
  nlohmann::json root = nlohmann::json::object();
  write_fields(top_level_fields(), s, root);
  if (!s.faults.empty()) root["fault"] = write_array(fault_fields(), s.faults);
  root["path"] = write_array(path_fields(), s.paths);
  if (auto slo = write_slo(s); !slo.empty()) root["slo"] = std::move(slo);
  redact(root);
  return root;
}

}  // namespace

std::string scenario_to_toml(const Scenario& scenario) {
  std::ostringstream out;
  out << json_to_toml(to_json(scenario));
  return out.str();
}

std::string scenario_to_json(const Scenario& scenario) {
  std::ostringstream out;
  out << toml::json_formatter{json_to_toml(to_json(scenario))};
  return out.str();
}

}  // namespace pathbench
