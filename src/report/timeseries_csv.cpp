#include <fmt/format.h>

#include <fstream>

#include "report/writers.h"

namespace pathbench {

namespace {

// One row per second per path since the path's start line, by completion time.
class TimeseriesCsvWriter final : public ResultWriter {
 public:
  std::string_view name() const override { return "timeseries.csv"; }
  void write(const RunResult& result, const std::filesystem::path& dir) const override {
    auto out = open_output(dir / "timeseries.csv");
    // Messaging paths (paths/messaging.h) add backlog and consumed: columns only in a run with one
    // (a run without keeps the file's format), empty on the other paths' rows.
    bool messaging = false;
    for (auto& p : result.paths)
      for (auto& r : p.intervals) messaging = messaging || r.backlog >= 0 || r.consumed >= 0;
    out << "path,phase,second,time_s,completed,ok,errors,timeouts,rejected,achieved_rate_per_s,p50_us,p99_us,"
           "max_us,in_flight,marker"
        << (messaging ? ",backlog,consumed\n" : "\n");
    for (auto& p : result.paths) {
      for (auto& r : p.intervals) {
        // Faults done during this second, ';'-separated.
        std::string marker;
        for (auto& f : p.faults)
          if (f.at_ns / kNanosPerSecond == r.second) marker += (marker.empty() ? "" : ";") + f.what;
        out << fmt::format("{},{},{},{:.1f},{},{},{},{},{},{:.1f},{:.3f},{:.3f},{:.3f},{},{}", p.label, r.phase, r.second,
                           static_cast<double>(r.second), r.completed, r.ok, r.errors, r.timeouts, r.rejected,
                           static_cast<double>(r.ok), r.p50_us, r.p99_us, r.max_us, r.in_flight, csv_field(marker));
        // Messaging paths: the broker's backlog at the end of the second, messages consumed in it.
        if (!messaging) {
          out << '\n';
          continue;
        }
        if (r.backlog >= 0) out << fmt::format(",{}", r.backlog);
        else out << ',';
        if (r.consumed >= 0) out << fmt::format(",{}\n", r.consumed);
        else out << ",\n";
      }
    }
    out.close();
  }
};

}  // namespace

std::unique_ptr<ResultWriter> make_timeseries_csv_writer() { return std::make_unique<TimeseriesCsvWriter>(); }

}  // namespace pathbench
