#include <fmt/format.h>

#include <algorithm>
#include <fstream>

#include "report/writers.h"

namespace pathbench {

namespace {

// What each fault did to each path, from its per-second rows:
//   ejected_after_ms  — kill_worker with a balancer: until the balancer stopped routing to it;
//   errors_after      — errors + timeouts in the fault's second and the two after it;
//   baseline_ok_per_s — mean ok per second over the (up to) 3 full seconds before the fault;
//   recovered_after_s — from the fault until the end of the first second whose ok reached 90 %
//                        of that baseline again (empty: it did not within the run).
class FaultsCsvWriter final : public ResultWriter {
 public:
  std::string_view name() const override { return "faults.csv"; }
  void write(const RunResult& result, const std::filesystem::path& dir) const override {
    bool any = false;
    for (auto& p : result.paths) any = any || !p.faults.empty();
    if (!any) return;
    auto out = open_output(dir / "faults.csv");
    out << "path,at_s,fault,ejected_after_ms,errors_after,baseline_ok_per_s,recovered_after_s\n";
    for (auto& p : result.paths) {
      for (auto& f : p.faults) {
        std::int64_t second = f.at_ns / kNanosPerSecond;
        double baseline = 0;
        int n = 0;
        std::int64_t errors = 0;
        for (auto& r : p.intervals) {
          if (r.second < second && r.second >= second - 3) baseline += static_cast<double>(r.ok), ++n;
          if (r.second >= second && r.second <= second + 2) errors += r.errors + r.timeouts;
        }
        baseline = n ? baseline / n : 0;
        std::string recovered;
        for (auto& r : p.intervals) {
          if (r.second < second || r.phase == "drain") continue;
          if (baseline > 0 && static_cast<double>(r.ok) >= 0.9 * baseline) {
            recovered = fmt::format("{:.3f}", static_cast<double>((r.second + 1) * kNanosPerSecond - f.at_ns) / 1e9);
            break;
          }
        }
        out << fmt::format("{},{:.3f},{},{},{},{:.1f},{}\n", p.label, static_cast<double>(f.at_ns) / 1e9, csv_field(f.what),
                           f.ejected_after_ns >= 0 ? fmt::format("{:.1f}", static_cast<double>(f.ejected_after_ns) / 1e6) : "",
                           errors, baseline, recovered);
      }
    }
    out.close();
  }
};

}  // namespace

std::unique_ptr<ResultWriter> make_faults_csv_writer() { return std::make_unique<FaultsCsvWriter>(); }

}  // namespace pathbench
