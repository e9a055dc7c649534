// tasks.csv: the task path's audit (measure/task_audit.h), one row per path that has one.
#include <fmt/format.h>

#include "report/writers.h"

namespace pathbench {

namespace {

class TasksCsvWriter final : public ResultWriter {
 public:
  std::string_view name() const override { return "tasks.csv"; }
  void write(const RunResult& result, const std::filesystem::path& dir) const override {
    bool any = false;
    for (auto& p : result.paths) any = any || p.tasks.has_value();
    if (!any) return;
    auto out = open_output(dir / "tasks.csv");
    out << "path,run_id,issued,done,received,processing,failed,lost,done_after_timeout,requests_ok,reclaimed,"
           "redelivered,insert_failed,insert_busy,store,error\n";
    for (auto& p : result.paths) {
      if (!p.tasks) continue;
      const TaskAudit& a = *p.tasks;
      out << fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", csv_field(p.label), csv_field(a.run_id),
                         a.issued, a.done, a.received, a.processing, a.failed, a.lost, a.done_after_timeout,
                         a.requests_ok, a.reclaimed, a.redelivered, a.insert_failed, a.insert_busy, csv_field(a.store),
                         csv_field(a.error));
    }
    out.close();
  }
};

}  // namespace

std::unique_ptr<ResultWriter> make_tasks_csv_writer() { return std::make_unique<TasksCsvWriter>(); }

}  // namespace pathbench
