#include "report/live_ui.h"

#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "net/websocket.h"

namespace pathbench {

namespace {

namespace http = boost::beast::http;
using Json = nlohmann::ordered_json;

constexpr std::size_t kHistorySeconds = 120;

// The page: a table of paths and a p99 sparkline each, redrawn from /live.json every second.
constexpr const char* kPage = R"PAGE(<!doctype html><html><head><meta charset="utf-8"><title>pathbench live</title>
<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 10px;text-align:right}th{background:#f3f3f3}td.text{text-align:left}
pre{background:#f8f8f8;padding:1em;overflow:auto}.note{color:#555}.bad{color:#b00}</style></head><body>
<h1>pathbench live — <span id="scenario"></span></h1>
<p class="note" id="status">waiting for the first completed second…</p>
<table id="paths"><thead><tr><th>path</th><th>phase</th><th>second</th><th>ok/s</th><th>p50 µs</th>
<th>p99 µs</th><th>errors/s</th><th>timeouts/s</th><th>rejected/s</th><th>in flight</th><th>p99 over time</th></tr></thead>
<tbody></tbody></table>
<div id="final"></div>
<script>
"use strict";
function cell(text, cls) { var td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; }
function spark(values) {
  var w = 160, h = 28, svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", w); svg.setAttribute("height", h);
  if (values.length > 1) {
    var max = Math.max.apply(null, values) || 1, pts = [];
    for (var i = 0; i < values.length; i++)
      pts.push((i * (w - 2) / (values.length - 1) + 1).toFixed(1) + "," + (h - 1 - values[i] / max * (h - 2)).toFixed(1));
    var line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", pts.join(" ")); line.setAttribute("fill", "none"); line.setAttribute("stroke", "#1f77b4");
    svg.appendChild(line);
  }
  var td = document.createElement("td"); td.appendChild(svg); return td;
}
function render(s) {
  document.getElementById("scenario").textContent = s.scenario;
  var body = document.querySelector("#paths tbody");
  body.textContent = "";
  s.paths.forEach(function (p) {
    var tr = document.createElement("tr");
    tr.className = "path-row";
    tr.appendChild(cell(p.path, "text")); tr.appendChild(cell(p.phase, "text"));
    tr.appendChild(cell(p.second + "/" + Math.round(p.total_s) + "s"));
    tr.appendChild(cell(p.ok_per_s)); tr.appendChild(cell(p.p50_us.toFixed(1))); tr.appendChild(cell(p.p99_us.toFixed(1)));
    tr.appendChild(cell(p.errors_per_s, p.errors_per_s > 0 ? "bad" : ""));
    tr.appendChild(cell(p.timeouts_per_s, p.timeouts_per_s > 0 ? "bad" : ""));
    tr.appendChild(cell(p.rejected_per_s, p.rejected_per_s > 0 ? "bad" : ""));
    tr.appendChild(cell(p.in_flight)); tr.appendChild(spark(p.p99_history_us));
    body.appendChild(tr);
  });
  var status = document.getElementById("status");
  if (s.finished) {
    status.textContent = "finished: results in " + s.results_dir;
    var fin = document.getElementById("final");
    if (!fin.dataset.done) {
      fin.dataset.done = "1";
      var pre = document.createElement("pre"); pre.id = "summary"; pre.textContent = s.summary; fin.appendChild(pre);
      if (s.report) {
        var a = document.createElement("a"); a.href = "/report"; a.textContent = "the finished report (report.html)";
        fin.appendChild(a);
      }
    }
  } else if (s.paths.length) {
    status.textContent = "running — updated each second (last completed second per path)";
  }
}
function poll() {
  fetch("/live.json", {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (s) {
    render(s);
    if (!s.finished) setTimeout(poll, 1000);
  }).catch(function () { document.getElementById("status").textContent = "pathbench is gone (the run ended)"; });
}
poll();
</script></body></html>
)PAGE";

struct PathState {
  IntervalRow last;
  double total_s = 0;
  std::vector<double> p99_history_us;
};

class UiHandler final : public net::WsHandler {
 public:
  explicit UiHandler(std::string scenario) : scenario_(std::move(scenario)) {}

  bool accepts(std::string_view) const override { return false; }
  void on_message(const std::shared_ptr<net::WsChannel>&, std::string_view, bool) override {}

  net::HttpResponse on_http(const net::HttpRequest& request) override {
    std::string_view target(request.target().data(), request.target().size());
    target = target.substr(0, target.find('?'));
    net::HttpResponse res{http::status::ok, request.version()};
    res.set(http::field::server, "pathbench");
    res.set(http::field::cache_control, "no-store");
    if (request.method() != http::verb::get) {
      res.result(http::status::method_not_allowed);
      res.body() = "GET only\n";
    } else if (target == "/") {
      res.set(http::field::content_type, "text/html; charset=utf-8");
      res.body() = kPage;
    } else if (target == "/live.json") {
      res.set(http::field::content_type, "application/json");
      res.body() = state_json();
    } else if (target == "/report" && !report_.empty()) {
      std::ifstream in(report_, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      res.set(http::field::content_type, "text/html; charset=utf-8");
      res.body() = text.str();
    } else {
      res.result(http::status::not_found);
      res.set(http::field::content_type, "text/plain");
      res.body() = "pathbench --ui serves /, /live.json and, once the run is over, /report\n";
    }
    res.prepare_payload();
    return res;
  }

  void add_second(const std::string& path, const IntervalRow& row, double total_s) {
    std::lock_guard lock(mutex_);
    auto [it, fresh] = paths_.try_emplace(path);
    if (fresh) order_.push_back(path);
    it->second.last = row;
    it->second.total_s = total_s;
    auto& history = it->second.p99_history_us;
    history.push_back(row.ok > 0 ? row.p99_us : 0);
    if (history.size() > kHistorySeconds) history.erase(history.begin());
  }

  void finish(const std::string& summary, const std::filesystem::path& dir) {
    std::error_code ec;
    std::lock_guard lock(mutex_);
    finished_ = true;
    summary_ = summary;
    results_dir_ = dir.string();
    if (std::filesystem::is_regular_file(dir / "report.html", ec)) report_ = dir / "report.html";
  }

 private:
  std::string state_json() const {
    std::lock_guard lock(mutex_);
    Json paths = Json::array();
    for (auto& name : order_) {
      const PathState& p = paths_.at(name);
      paths.push_back(Json{{"path", name},
                           {"phase", p.last.phase},
                           {"second", p.last.second + 1},
                           {"total_s", p.total_s},
                           {"ok_per_s", p.last.ok},
                           {"p50_us", p.last.p50_us},
                           {"p99_us", p.last.p99_us},
                           {"errors_per_s", p.last.errors},
                           {"timeouts_per_s", p.last.timeouts},
                           {"rejected_per_s", p.last.rejected},
                           {"in_flight", p.last.in_flight},
                           {"p99_history_us", p.p99_history_us}});
    }
    return Json{{"scenario", scenario_},
                {"finished", finished_},
                {"results_dir", results_dir_},
                {"summary", summary_},
                {"report", !report_.empty()},
                {"paths", std::move(paths)}}
        .dump(-1, ' ', false, Json::error_handler_t::replace);
  }

  const std::string scenario_;
  mutable std::mutex mutex_;
  std::vector<std::string> order_;
  std::map<std::string, PathState> paths_;
  bool finished_ = false;
  std::string summary_, results_dir_;
  std::filesystem::path report_;
};

net::WsServerOptions ui_server_options(const std::string& listen) {
  net::WsServerOptions o;
  o.listen = listen;
  o.thread_name = "pb-ui";
  o.name = "live view (--ui)";
  o.threads = 1;
  o.max_connections = 64;
  o.max_http_body_bytes = 64 * 1024;
  return o;
}

}  // namespace

struct LiveUiServer::Impl {
  Impl(const std::string& listen, std::string scenario)
      : handler(std::move(scenario)), server(ui_server_options(listen), handler) {}
  UiHandler handler;
  net::WsServer server;  // after the handler: stopped before it goes
};

LiveUiServer::LiveUiServer(const std::string& listen, std::string scenario_name)
    : impl_(std::make_unique<Impl>(listen, std::move(scenario_name))) {}
LiveUiServer::~LiveUiServer() = default;
std::string LiveUiServer::address() const { return impl_->server.address(); }
void LiveUiServer::add_second(const std::string& path, const IntervalRow& row, double total_s) {
  impl_->handler.add_second(path, row, total_s);
}
void LiveUiServer::finish(const std::string& summary_text, const std::filesystem::path& results_dir) {
  impl_->handler.finish(summary_text, results_dir);
}

}  // namespace pathbench
