#include <fmt/format.h>

#include <fstream>

#include "build_info.h"
#include "report/writers.h"
#include "scenario/loader.h"

namespace pathbench {

namespace {

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<int>(c));
        else out += c;
    }
  }
  return out + "\"";
}

class ContextJsonWriter final : public ResultWriter {
 public:
  std::string_view name() const override { return "context.json"; }
  void write(const RunResult& result, const std::filesystem::path& dir) const override {
    const MachineContext& m = result.machine;
    auto out = open_output(dir / "context.json");
    out << "{\n";
    out << fmt::format("  \"pathbench_version\": {},\n", json_string(build::version));
    out << fmt::format("  \"started_utc\": {},\n  \"finished_utc\": {},\n", json_string(result.started_utc),
                       json_string(result.finished_utc));
    out << fmt::format("  \"command_line\": {},\n", json_string(result.command_line));
    out << fmt::format("  \"partial\": {},\n", result.interrupted ? "true" : "false");
    out << fmt::format("  \"scenario_file\": {},\n", json_string(result.scenario.file.string()));
    out << "  \"build\": {\n";
    out << fmt::format("    \"git_commit\": {},\n    \"build_type\": {},\n    \"compiler\": {},\n",
                       json_string(m.git_commit), json_string(m.build_type), json_string(m.compiler));
    out << fmt::format("    \"sanitized\": {},\n    \"warning\": {}\n  }},\n", m.sanitized ? "true" : "false",
                       json_string(build_warning(m)));
    out << "  \"machine\": {\n";
    out << fmt::format("    \"hostname\": {},\n    \"cpu_model\": {},\n    \"cores\": {},\n    \"kernel\": {},\n"
                       "    \"memory_total\": {}\n  }},\n",
                       json_string(m.hostname), json_string(m.cpu_model), m.cores, json_string(m.kernel),
                       json_string(m.memory_total));
    out << "  \"libraries\": {";
    for (std::size_t i = 0; i < m.libraries.size(); ++i)
      out << fmt::format("{}\n    {}: {}", i ? "," : "", json_string(m.libraries[i].first),
                         json_string(m.libraries[i].second));
    out << "\n  },\n  \"paths\": [";
    for (std::size_t i = 0; i < result.paths.size(); ++i) {
      auto& p = result.paths[i];
      out << fmt::format(
          "{}\n    {{\"label\": {}, \"kind\": {}, \"via\": {}, \"endpoint\": {}, \"started_utc\": {}, "
          "\"finished_utc\": {}, \"elapsed_s\": {:.3f}, \"late\": {}, \"in_flight_after_drain\": {}, "
          "\"accounting_ok\": {}, \"interrupted\": {}, \"failure\": {}}}",
          i ? "," : "", json_string(p.label), json_string(p.kind), json_string(p.via), json_string(p.endpoint),
          json_string(p.started_utc), json_string(p.finished_utc), static_cast<double>(p.elapsed_ns) / 1e9, p.late,
          p.in_flight_after_drain, p.accounting_holds() ? "true" : "false", p.interrupted ? "true" : "false",
          json_string(p.failure));
    }
    out << "\n  ],\n  \"scenario\": ";
    // The scenario as run, every default made explicit; indented under its key.
    std::string scenario = scenario_to_json(result.scenario);
    for (char c : scenario) {
      out << c;
      if (c == '\n') out << "  ";
    }
    out << "\n}\n";
    out.close();
  }
};

}  // namespace

std::unique_ptr<ResultWriter> make_context_json_writer() { return std::make_unique<ContextJsonWriter>(); }

}  // namespace pathbench
