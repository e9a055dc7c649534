#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <google/protobuf/stubs/common.h>
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>
#include <nlohmann/json.hpp>
#include <amqp.h>

#include "build_info.h"
#include "report/context_json.h"
#include "report/writers.h"
#include "scenario/loader.h"

namespace pathbench {

namespace {

using Json = nlohmann::ordered_json;

Json path_json(const PathRunResult& p) {
  return Json{{"label", p.label},
              {"kind", p.kind},
              {"via", p.via},
              {"endpoint", p.endpoint},
              {"started_utc", p.started_utc},
              {"finished_utc", p.finished_utc},
              {"elapsed_s", std::round(static_cast<double>(p.elapsed_ns) / 1e6) / 1e3},  // ms resolution
              {"late", p.late},
              {"in_flight_after_drain", p.in_flight_after_drain},
              {"accounting_ok", p.accounting_holds()},
              {"interrupted", p.interrupted},
              {"failure", p.failure}};
}

// [agents]: per path, each agent's clock estimate, thread range and start line as measured.
Json agents_json(const RunResult& result) {
  Json paths = Json::array();
  for (auto& path : result.agent_paths) {
    Json agents = Json::array();
    for (auto& a : path.agents)
      agents.push_back(Json{{"endpoint", a.clock.endpoint},
                            {"hostname", a.clock.hostname},
                            {"version", a.clock.version},
                            {"first_thread", a.first_thread},
                            {"thread_count", a.thread_count},
                            {"clock_offset_ns", a.clock.offset_ns},
                            {"clock_uncertainty_ns", a.clock.uncertainty_ns},
                            {"hello_rtt_ns", a.clock.rtt_ns},
                            {"start_late_ns", a.start_late_ns},
                            {"start_margin_ns", a.start_margin_ns},
                            {"start_skew_bound_ns", a.start_late_ns + a.clock.uncertainty_ns},
                            {"start_skew_warning_above_ns", kStartSkewBoundNs + a.clock.uncertainty_ns},
                            {"missing", a.missing},
                            {"why", a.why}});
    paths.push_back(Json{{"label", path.label}, {"agents", std::move(agents)}});
  }
  return paths;
}

}  // namespace

Json context_json(const RunResult& result) {
  const MachineContext& m = result.machine;
  Json libraries = Json::object();
  for (auto& [name, version] : m.libraries) libraries[name] = version;
  // The libraries the request paths run on, as linked (the runtime's own version where it has one).
  libraries["grpc"] = grpc::Version();
  libraries["protobuf"] = google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION);
  libraries["rabbitmq-c"] = amqp_version();
  libraries["nats.c"] = nats_GetVersion();
  // The servers the run started itself (url = "auto"), by kind: the program's version.
  Json servers = Json::object();
  for (auto& [kind, version] : result.servers) servers[kind] = version;
  Json paths = Json::array();
  for (auto& p : result.paths) paths.push_back(path_json(p));
  // The scenario as run, every default made explicit (scenario_to_json writes it as JSON text).
  Json scenario = Json::parse(scenario_to_json(result.scenario), nullptr, /*allow_exceptions=*/false);
  if (scenario.is_discarded()) scenario = scenario_to_json(result.scenario);  // kept, as text, rather than lost
  return Json{{"pathbench_version", build::version},
              {"started_utc", result.started_utc},
              {"finished_utc", result.finished_utc},
              {"command_line", result.command_line},
              {"partial", result.interrupted},
              {"scenario_file", result.scenario.file.string()},
              {"build",
               {{"git_commit", m.git_commit},
                {"build_type", m.build_type},
                {"compiler", m.compiler},
                {"sanitized", m.sanitized},
                {"warning", build_warning(m)}}},
              {"machine",
               {{"hostname", m.hostname},
                {"cpu_model", m.cpu_model},
                {"cores", m.cores},
                {"kernel", m.kernel},
                {"memory_total", m.memory_total}}},
              {"libraries", std::move(libraries)},
              {"servers", std::move(servers)},
              {"paths", std::move(paths)},
              {"agents", agents_json(result)},
              {"scenario", std::move(scenario)}};
}

namespace {

class ContextJsonWriter final : public ResultWriter {
 public:
  std::string_view name() const override { return "context.json"; }
  void write(const RunResult& result, const std::filesystem::path& dir) const override {
    auto out = open_output(dir / "context.json");
    // 2-space indentation throughout; bytes that are not UTF-8 (a hostname, a failure text) become U+FFFD.
    out << context_json(result).dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
    out.close();
  }
};

}  // namespace

std::unique_ptr<ResultWriter> make_context_json_writer() { return std::make_unique<ContextJsonWriter>(); }

}  // namespace pathbench
