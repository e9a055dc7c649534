// `pathbench run --ui ADDR`: a small live page in a browser while a run goes on. Each path's
// last completed second (rate ok/s, p50, p99, errors/timeouts per second, in flight) and a
// sparkline of its recent p99, updated once a second; at the end the summary table, the accounting
// lines and the finished report.html (GET /report). Served by net's WsServer (the one HTTP server,
// as /metrics is), one thread "pb-ui"; the page is one HTML file with an inline script that polls
// GET /live.json, nothing fetched from elsewhere. Updates arrive once per completed second per
// path (never per request). Thread-safe.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "measure/interval.h"

namespace pathbench {

class LiveUiServer {
 public:
  // `listen` is "host:port" (port 0 = free). Throws std::runtime_error when it cannot listen.
  LiveUiServer(const std::string& listen, std::string scenario_name);
  ~LiveUiServer();
  std::string address() const;

  // One completed second of `path` (`total_s`: the path's planned length).
  void add_second(const std::string& path, const IntervalRow& row, double total_s);
  // The run is over: its summary text and results folder (report.html is served from it when there).
  void finish(const std::string& summary_text, const std::filesystem::path& results_dir);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathbench
