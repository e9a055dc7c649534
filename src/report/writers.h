// Factories for the concrete result writers (one file each), listed in result_writers().
#pragma once
#include <memory>

#include "report/writer.h"

namespace pathbench {

std::unique_ptr<ResultWriter> make_summary_csv_writer();   // summary.csv
std::unique_ptr<ResultWriter> make_hgrm_writer();          // <path>.hgrm, <path>.uncorrected.hgrm
std::unique_ptr<ResultWriter> make_context_json_writer();  // context.json
std::unique_ptr<ResultWriter> make_timeseries_csv_writer();  // timeseries.csv
std::unique_ptr<ResultWriter> make_hops_csv_writer();      // hops.csv (paths whose servers report timings)
std::unique_ptr<ResultWriter> make_balancer_csv_writer();
std::unique_ptr<ResultWriter> make_faults_csv_writer();
std::unique_ptr<ResultWriter> make_summary_json_writer();  // summary.json (summary.csv's rows + context, warnings, accounting)
std::unique_ptr<ResultWriter> make_knee_csv_writer();      // knee.csv (runs with a [knee] table)    // faults.csv (runs with [[fault]] entries)  // balancer.csv (paths through the balancer)
std::unique_ptr<ResultWriter> make_tasks_csv_writer();     // tasks.csv (paths with a task audit)

}  // namespace pathbench
