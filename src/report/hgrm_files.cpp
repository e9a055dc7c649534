#include <fstream>

#include "report/hgrm.h"
#include "report/writers.h"

namespace pathbench {

namespace {

// HdrHistogram's percentile-distribution text, in microseconds, so HdrHistogram's own
// plotter and our chart script read the same files.
class HgrmWriter final : public ResultWriter {
 public:
  std::string_view name() const override { return "hgrm"; }
  void write(const RunResult& result, const std::filesystem::path& dir) const override {
    for (auto& path : result.paths) {
      for (std::size_t i = 0; i < path.plan.size() && i < path.phases.size(); ++i) {
        if (!path.plan[i].measured) continue;
        auto corrected = open_output(dir / hgrm_file_name(path, path.plan[i], ""));
        write_percentile_distribution(path.phases[i].latency, corrected, 1000.0);
        corrected.close();
        auto uncorrected = open_output(dir / hgrm_file_name(path, path.plan[i], "uncorrected"));
        write_percentile_distribution(path.phases[i].uncorrected, uncorrected, 1000.0);
        uncorrected.close();
        if (path.phases[i].messaging.present) {  // one-way messaging: the publish side (latency is end-to-end)
          auto publish = open_output(dir / hgrm_file_name(path, path.plan[i], "publish"));
          write_percentile_distribution(path.phases[i].publish_latency, publish, 1000.0);
          publish.close();
        }
      }
    }
  }
};

}  // namespace

std::unique_ptr<ResultWriter> make_hgrm_writer() { return std::make_unique<HgrmWriter>(); }

}  // namespace pathbench
