#include <fmt/format.h>

#include <fstream>

#include "report/writers.h"

namespace pathbench {

namespace {

// The probes of each path's knee search, in run order, with their verdicts (knee.csv), and the
// answer per path on its own (knee_answer.csv), so each file's columns have one type.
class KneeCsvWriter final : public ResultWriter {
 public:
  std::string_view name() const override { return "knee.csv"; }
  void write(const RunResult& result, const std::filesystem::path& dir) const override {
    bool any = false;
    for (auto& p : result.paths) any = any || p.knee.searched;
    if (!any) return;
    auto out = open_output(dir / "knee.csv");
    out << "path,probe,rate_per_s,achieved_rate_per_s,p50_us,p99_us,issued,failed,sustainable,verdict\n";
    for (auto& p : result.paths) {
      if (!p.knee.searched) continue;
      for (std::size_t i = 0; i < p.phases.size() && i < p.plan.size(); ++i) {
        const PhaseStats& s = p.phases[i];
        const std::string& verdict = i < p.knee.verdicts.size() ? p.knee.verdicts[i] : std::string();
        double seconds = static_cast<double>(p.plan[i].duration_ns()) / 1e9;
        out << fmt::format("{},{},{:.1f},{:.1f},{:.3f},{:.3f},{},{},{},{}\n", p.label, p.plan[i].name, p.plan[i].rate_per_s,
                           static_cast<double>(s.count(Outcome::ok)) / seconds,
                           to_micros(std::min(s.latency.value_at_percentile(50), s.latency.max())),
                           to_micros(std::min(s.latency.value_at_percentile(99), s.latency.max())), s.issued,
                           s.issued - s.count(Outcome::ok), verdict == "ok" ? "true" : "false", csv_field(verdict));
      }
    }
    out.close();
    auto answer = open_output(dir / "knee_answer.csv");
    answer << "path,knee_rate_per_s,confirmed,at_least,verdict\n";
    for (auto& p : result.paths) {
      if (!p.knee.searched) continue;
      answer << fmt::format("{},{:.1f},{},{},{}\n", p.label, p.knee.rate_per_s, p.knee.confirmed ? "true" : "false",
                            p.knee.above_high ? "true" : "false",
                            p.knee.above_high ? "at least: the highest rate tried held"
                                              : (p.knee.confirmed ? "confirmed" : "not confirmed"));
    }
    answer.close();
  }
};

}  // namespace

std::unique_ptr<ResultWriter> make_knee_csv_writer() { return std::make_unique<KneeCsvWriter>(); }

}  // namespace pathbench
