#include "report/writer.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>

#include "core/check.h"

#include "report/writers.h"

namespace pathbench {

std::span<const std::unique_ptr<ResultWriter>> result_writers() {
  static const std::vector<std::unique_ptr<ResultWriter>> writers = [] {
    std::vector<std::unique_ptr<ResultWriter>> w;
    w.push_back(make_summary_csv_writer());
    w.push_back(make_hgrm_writer());
    w.push_back(make_context_json_writer());
    w.push_back(make_timeseries_csv_writer());
    w.push_back(make_hops_csv_writer());
    w.push_back(make_balancer_csv_writer());
    w.push_back(make_faults_csv_writer());
    w.push_back(make_knee_csv_writer());
    w.push_back(make_tasks_csv_writer());
    w.push_back(make_summary_json_writer());
    return w;
  }();
  return writers;
}

void write_results(const RunResult& result, const std::filesystem::path& dir) {
  prepare_results_folder(dir);
  for (auto& writer : result_writers()) writer->write(result, dir);
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\n") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

OutputFile::OutputFile(std::filesystem::path file)
    : std::ofstream(file, std::ios::binary | std::ios::trunc), file_(std::move(file)) {
  if (!is_open() || fail()) throw std::runtime_error(fmt::format("cannot write {}: {}", file_.string(), std::strerror(errno)));
}

OutputFile::~OutputFile() {
  check(closed_ || std::uncaught_exceptions() > exceptions_at_open_ || file_.empty(),
        "a result file was never closed (OutputFile::close)");
}

void OutputFile::close() {
  closed_ = true;
  errno = 0;
  flush();
  const bool flushed = !fail();
  std::ofstream::close();
  if (!flushed || fail())
    throw std::runtime_error(fmt::format("cannot write {}: {}", file_.string(),
                                         errno != 0 ? std::strerror(errno) : "I/O error"));
}

OutputFile open_output(const std::filesystem::path& file) { return OutputFile(file); }

void prepare_results_folder(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot create results folder {}: {}", dir.string(), ec.message()));
  if (!std::filesystem::is_directory(dir, ec))
    throw std::runtime_error(fmt::format("results folder {} is not a folder", dir.string()));
  const auto probe = dir / ".pathbench-write-probe";
  {
    OutputFile out(probe);
    out << "pathbench\n";
    out.close();
  }
  std::filesystem::remove(probe, ec);
}

std::string hgrm_file_name(const PathRunResult& path, const PhasePlan& phase, std::string_view variant) {
  std::size_t measured = 0;
  for (auto& p : path.plan) measured += p.measured ? 1 : 0;
  std::string name = path.label;
  if (!(measured == 1 && phase.name == "main")) name += "." + phase.name;
  if (!variant.empty()) name += fmt::format(".{}", variant);
  return name + ".hgrm";
}

namespace {

// A percentile is its bucket's highest equivalent value; no percentile exceeds the exact max.
double percentile_us(const Histogram& h, double p) { return to_micros(std::min(h.value_at_percentile(p), h.max())); }

// The row of request kind `k` of `path`, under its all-kinds row `all`.
SummaryRow kind_row(const SummaryRow& all, const PathRunResult& path, const PhaseStats& s, std::size_t k) {
  SummaryRow r;
  r.path = all.path;
  r.kind = all.kind;
  r.via = all.via;
  r.phase = all.phase;
  r.request_kind = path.kinds[k];
  r.duration_s = all.duration_s;
  r.target_rate_per_s = 0;
  const KindStats& ks = s.kinds[k];
  auto per_s = [&r](std::int64_t n) { return r.duration_s > 0 ? static_cast<double>(n) / r.duration_s : 0.0; };
  auto count = [&ks](Outcome o) { return ks.outcomes[static_cast<std::size_t>(o)]; };
  r.issued = ks.issued;
  r.offered_rate_per_s = per_s(ks.issued);
  r.ok = count(Outcome::ok);
  r.achieved_rate_per_s = per_s(r.ok);
  std::int64_t completed = 0;
  for (auto o : kAllOutcomes) {
    completed += count(o);
    if (is_error(o)) r.errors += count(o);
  }
  r.timeouts = count(Outcome::timeout);
  r.rejected = count(Outcome::rejected);
  r.outcomes = ks.outcomes;
  r.p50_us = percentile_us(ks.latency, 50);
  r.p90_us = percentile_us(ks.latency, 90);
  r.p99_us = percentile_us(ks.latency, 99);
  r.p999_us = percentile_us(ks.latency, 99.9);
  r.p9999_us = percentile_us(ks.latency, 99.99);
  r.max_us = to_micros(ks.latency.max());
  r.mean_us = ks.latency.mean() / 1000.0;
  r.accounting_ok = all.accounting_ok && completed == ks.issued;
  r.partial = all.partial;
  r.failure = all.failure;
  return r;
}

}  // namespace

std::vector<SummaryRow> summary_rows_with_kinds(const RunResult& result) {
  std::vector<SummaryRow> rows;
  std::vector<SummaryRow> all = summary_rows(result);
  std::size_t next = 0;
  for (auto& path : result.paths) {
    for (std::size_t i = 0; i < path.plan.size(); ++i) {
      if (!path.plan[i].measured) continue;
      const SummaryRow& a = all.at(next++);
      rows.push_back(a);
      if (path.phases.size() <= i) continue;
      for (std::size_t k = 0; k < path.kinds.size() && k < kMaxRequestKinds; ++k)
        rows.push_back(kind_row(a, path, path.phases[i], k));
    }
  }
  return rows;
}

std::vector<SummaryRow> summary_rows(const RunResult& result) {
  std::vector<SummaryRow> rows;
  for (auto& path : result.paths) {
    for (std::size_t i = 0; i < path.plan.size(); ++i) {
      const PhasePlan& plan = path.plan[i];
      if (!plan.measured) continue;
      static const PhaseStats kNothing{};
      const PhaseStats& s = path.phases.size() > i ? path.phases[i] : kNothing;
      SummaryRow r;
      r.path = path.label;
      r.kind = path.kind;
      r.via = path.via;
      r.phase = plan.name;
      r.duration_s = static_cast<double>(path.ran_ns(i)) / 1e9;
      r.target_rate_per_s = result.scenario.load.mode == LoadMode::open ? plan.mean_rate_per_s() : 0;
      auto per_s = [&r](std::int64_t n) { return r.duration_s > 0 ? static_cast<double>(n) / r.duration_s : 0.0; };
      r.offered_rate_per_s = per_s(s.issued);
      r.achieved_rate_per_s = per_s(s.count(Outcome::ok));
      r.sent_on_time = s.sent_on_time;
      r.unsent = s.unsent;
      r.sent_on_time_rate_per_s = per_s(s.sent_on_time);
      r.issued = s.issued;
      r.ok = s.count(Outcome::ok);
      r.errors = s.errors();
      r.timeouts = s.count(Outcome::timeout);
      r.rejected = s.count(Outcome::rejected);
      r.outcomes = s.outcomes;
      r.late = path.late;
      // A percentile is its bucket's highest equivalent value; no percentile exceeds the exact max.
      auto at = [](const Histogram& h, double p) { return to_micros(std::min(h.value_at_percentile(p), h.max())); };
      r.p50_us = at(s.latency, 50);
      r.p90_us = at(s.latency, 90);
      r.p99_us = at(s.latency, 99);
      r.p999_us = at(s.latency, 99.9);
      r.p9999_us = at(s.latency, 99.99);
      r.max_us = to_micros(s.latency.max());
      r.mean_us = s.latency.mean() / 1000.0;
      r.uncorrected_p50_us = at(s.uncorrected, 50);
      r.uncorrected_p99_us = at(s.uncorrected, 99);
      r.lag_p99_us = at(s.lag, 99);
      r.wakeup_lag_p50_us = at(s.wakeup_lag, 50);
      r.wakeup_lag_p99_us = at(s.wakeup_lag, 99);
      // This phase's CPU over this phase's requests when it was sampled per phase; otherwise the
      // whole run's over all of its requests (the same on every row of the path).
      const bool per_phase = path.phase_cpu.size() == path.plan.size();
      const CpuSample& cpu = per_phase ? path.phase_cpu[i] : path.cpu;
      std::int64_t completed = s.completed();
      if (!per_phase) {
        completed = 0;
        for (auto& ph : path.phases) completed += ph.completed();
      }
      if (completed > 0) {
        for (std::size_t g = 0; g < kCpuGroupCount; ++g)
          r.cpu_us_per_request[g] = static_cast<double>(cpu.by_group_ns[g]) / 1e3 / static_cast<double>(completed);
        r.cpu_total_us_per_request = static_cast<double>(cpu.process_ns) / 1e3 / static_cast<double>(completed);
      }
      r.accounting_ok = path.accounting_holds();
      r.partial = path.interrupted || result.interrupted;
      r.failure = path.failure;
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

}  // namespace pathbench
