#!/usr/bin/env python3
"""pathbench side by side with independent instruments, in one run (issue 16).

Prints each ratio (pathbench / peer) from medians of ROUNDS interleaved runs (pathbench, peer,
pathbench, peer, ...), so both sides see the same minutes of a shared machine:

  a  gRPC unary max rate, external `serve worker`, 2 connections x 32 in flight, echo queries:
     pathbench vs h2load (gRPC framing: a length-prefixed QueryRequest body, content-type
     application/grpc, te: trailers); client CPU per request = the client process's
     utime+stime (wait4 rusage, the same counters as /proc/<pid>/stat) / requests.
  b  gRPC unary p50 at 2,000/s, one connection: pathbench open loop vs h2load -m 1 --rps 2000
     (h2load's --log-file gives every request's time; pathbench: from the intended send time,
     and from the actual send)
  c  tcp_echo p50, one in flight, 64-byte messages, vs sockperf ping-pong. sockperf's client
     only talks to sockperf's server (its messages carry a header the server must answer), so
     each tool measures its own server: pathbench `serve echo`, `sockperf sr`. sockperf 3.x
     reports half the round trip; the RTT here is twice its figure.
  d  tcp_echo p50 at 1,000/s open loop vs sockperf --mps 1000 (same servers as c)
  e  heavy query max rate through grpc_unary direct (external `serve worker --threads 2`,
     closed loop, 16 in flight) vs bench/bare_sqlite.cpp (2 threads, same SQL and parameters);
     SQL-thread CPU per query from /proc/<worker>/task/*/stat of its "sql" threads, and the
     worker's whole CPU per query (a query may run inline on the gRPC thread that received it)
  f  p50 at one in flight / tcp_echo p50, same run: grpc_unary, grpc_stream, websocket (direct)
     and queue over the embedded broker, echo queries

Not a test: it asserts nothing and takes a few minutes. Needs h2load (nghttp2-client) and
sockperf; a Release build of `pathbench` and `pathbench_bare_sqlite` (bench/, PATHBENCH_BENCH=ON):

  cmake --build build --target pathbench pathbench_bare_sqlite
  python3 bench/compare_peers.py --build build --db data/sales.db [--rounds 3] [--seconds 4] [--only a,c]
"""
import argparse
import csv
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout_s=10.0):
    end = time.time() + timeout_s
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def run_timed(cmd, timeout_s=300):
    """Runs cmd to the end; returns (stdout, stderr, cpu seconds of the process and its children)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        deadline = time.time() + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{stdout[-2000:]}\n{stderr[-2000:]}")
    return stdout, stderr, usage.ru_utime + usage.ru_stime


class Server:
    """A background process, stopped with SIGINT (then SIGKILL) when the block ends."""

    def __init__(self, cmd, port):
        self.cmd, self.port, self.proc = cmd, port, None

    def __enter__(self):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port)
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def process_cpu_s(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def threads_cpu_s(self, name_part):
        """CPU seconds (utime+stime) of this process's threads whose name contains name_part."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        task_dir = f"/proc/{self.proc.pid}/task"
        for tid in os.listdir(task_dir):
            try:
                with open(f"{task_dir}/{tid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            if name_part in comm:
                total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        return total / tick


class Bench:
    def __init__(self, args):
        self.args = args
        self.pathbench = os.path.join(args.build, "src", "pathbench")
        self.bare = os.path.join(args.build, "bench", "pathbench_bare_sqlite")
        self.tmp = tempfile.mkdtemp(prefix="pb-peers-")
        self.db = os.path.abspath(args.db)
        self.runs = 0

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def scenario(self, body):
        self.runs += 1
        path = os.path.join(self.tmp, f"s{self.runs}.toml")
        with open(path, "w") as f:
            f.write(f'name = "peers"\nseed = 42\n[database]\npath = "{self.db}"\n{body}')
        return path

    def pathbench_run(self, body):
        """Runs a scenario; returns ({path label: summary row of its last phase}, process CPU s)."""
        out = os.path.join(self.tmp, f"out{self.runs + 1}")
        scenario = self.scenario(body)
        _, _, cpu = run_timed([self.pathbench, "run", scenario, "--out", out, "--quiet", "--no-charts"])
        with open(os.path.join(out, "summary.csv")) as f:
            # The path's own row (request_kind "all"), not its per-kind rows below it.
            rows = {r["path"]: r for r in csv.DictReader(f) if r.get("request_kind", "all") in ("all", "")}
        shutil.rmtree(out, ignore_errors=True)
        return rows, cpu

    # --- a: gRPC unary max rate and client CPU ---------------------------------------------
    def grpc_body(self):
        path = os.path.join(self.tmp, "echo.bin")
        msg = bytes([0x08, 0x01])  # QueryRequest{request_id: 1}, kind echo (0, the default)
        with open(path, "wb") as f:
            f.write(b"\x00" + struct.pack(">I", len(msg)) + msg)
        return path

    def a_pathbench(self, port):
        s = self.args.seconds
        rows, cpu = self.pathbench_run(
            f'[load]\nmode = "closed"\nconcurrency = 64\nthreads = 1\nduration = "{s}s"\nwarmup = "0s"\n'
            f'[query]\nmix = {{ echo = 1 }}\n[workers]\nendpoints = ["127.0.0.1:{port}"]\n'
            f'[[path]]\nkind = "grpc_unary"\nvia = "direct"\nconnections = 2\n')
        r = rows["grpc_unary_direct"]
        n = int(r["ok"])
        return {"rate": float(r["achieved_rate_per_s"]), "cpu_us": cpu * 1e6 / max(n, 1)}

    def a_h2load(self, port, rate_guess):
        n = max(20000, int(rate_guess * self.args.seconds))
        out, _, cpu = run_timed(["h2load", "-n", str(n), "-c", "2", "-m", "32", "-t", "1", "-d", self.grpc_body(),
                                 "-H", "content-type: application/grpc", "-H", "te: trailers",
                                 f"http://127.0.0.1:{port}/pathbench.v1.Worker/Query"])
        rate = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
        done = int(re.search(r"(\d+) succeeded", out).group(1))
        return {"rate": rate, "cpu_us": cpu * 1e6 / max(done, 1)}

    # --- b: gRPC unary p50 at 2,000/s -----------------------------------------------------
    def b_pathbench(self, port):
        s = self.args.seconds
        rows, _ = self.pathbench_run(
            f'[load]\nmode = "open"\narrival = "constant"\nrate_per_s = 2000\nconcurrency = 64\nthreads = 1\n'
            f'duration = "{s}s"\nwarmup = "1s"\n[query]\nmix = {{ echo = 1 }}\n'
            f'[workers]\nendpoints = ["127.0.0.1:{port}"]\n'
            f'[[path]]\nkind = "grpc_unary"\nvia = "direct"\nconnections = 1\n')
        r = rows["grpc_unary_direct"]
        return {"p50": float(r["p50_us"]), "p50_sent": float(r["uncorrected_p50_us"])}

    def b_h2load(self, port):
        log = os.path.join(self.tmp, "h2load.log")
        run_timed(["h2load", "-n", str(2000 * self.args.seconds), "-c", "1", "-m", "1", "-t", "1", "--rps", "2000",
                   "-d", self.grpc_body(), "-H", "content-type: application/grpc", "-H", "te: trailers",
                   "--log-file", log, f"http://127.0.0.1:{port}/pathbench.v1.Worker/Query"])
        with open(log) as f:
            durations = [int(line.split()[2]) for line in f if line.strip()]  # start, status, µs
        skip = len(durations) // 10  # like pathbench's warm-up
        return {"p50": statistics.median(durations[skip:])}

    # --- c, d: tcp_echo vs sockperf ---------------------------------------------------------
    def cd_pathbench(self, echo_port, rate):
        s = self.args.seconds
        load = (f'mode = "open"\narrival = "constant"\nrate_per_s = {rate}\nconcurrency = 16\n' if rate
                else 'mode = "closed"\nconcurrency = 1\n')
        rows, _ = self.pathbench_run(
            f'[load]\n{load}threads = 1\nduration = "{s}s"\nwarmup = "1s"\n{self.args.load_extra}\n'
            f'[echo]\nendpoint = "127.0.0.1:{echo_port}"\n[[path]]\nkind = "tcp_echo"\nmessage_bytes = 64\n')
        r = rows["tcp_echo"]
        return {"p50": float(r["p50_us"]), "p50_sent": float(r["uncorrected_p50_us"])}

    def cd_sockperf(self, port, rate):
        cmd = ["sockperf", "pp", "--tcp", "-i", "127.0.0.1", "-p", str(port), "-t", str(self.args.seconds), "-m", "64"]
        if rate:
            cmd += ["--mps", str(rate)]
        out, err, _ = run_timed(cmd)
        text = out + err
        half = float(re.search(r"percentile 50\.000 =\s*([\d.]+)", text).group(1))
        return {"p50": 2 * half}

    # --- e: heavy query vs the bare loop ------------------------------------------------------
    def e_pathbench(self, worker):
        s = self.args.seconds
        cpu0, proc0 = worker.threads_cpu_s("sql"), worker.process_cpu_s()
        rows, _ = self.pathbench_run(
            f'[load]\nmode = "closed"\nconcurrency = 16\nthreads = 1\nduration = "{s}s"\nwarmup = "0s"\n'
            f'[query]\nmix = {{ heavy = 1 }}\n[workers]\nendpoints = ["127.0.0.1:{worker.port}"]\n'
            f'[[path]]\nkind = "grpc_unary"\nvia = "direct"\nconnections = 2\n')
        cpu, proc = worker.threads_cpu_s("sql") - cpu0, worker.process_cpu_s() - proc0
        r = rows["grpc_unary_direct"]
        n = int(r["ok"])
        return {"rate": float(r["achieved_rate_per_s"]), "sql_cpu_us": cpu * 1e6 / max(n, 1),
                "worker_cpu_us": proc * 1e6 / max(n, 1)}

    def e_bare(self):
        out, _, _ = run_timed([self.bare, self.db, "2", str(self.args.seconds)])
        return {"rate": float(re.search(r"rate_per_s=([\d.]+)", out).group(1)),
                "sql_cpu_us": float(re.search(r"cpu_us_per_query=([\d.]+)", out).group(1))}

    # --- f: p50 at one in flight relative to tcp_echo ------------------------------------------
    def f_pathbench(self):
        s = self.args.seconds
        rows, _ = self.pathbench_run(
            f'[load]\nmode = "closed"\nconcurrency = 1\nthreads = 1\nduration = "{s}s"\nwarmup = "1s"\n'
            f'{self.args.load_extra}\n[query]\nmix = {{ echo = 1 }}\n[workers]\ncount = 1\nthreads = 1\n'
            f'[broker]\nkind = "embedded"\n'
            f'[[path]]\nkind = "tcp_echo"\n[[path]]\nkind = "grpc_unary"\nvia = "direct"\n'
            f'[[path]]\nkind = "grpc_stream"\nvia = "direct"\n[[path]]\nkind = "queue"\nvia = "embedded"\n'
            f'[[path]]\nkind = "websocket"\nvia = "direct"\n')
        floor = float(rows["tcp_echo"]["p50_us"])
        out = {"tcp_echo_p50": floor}
        for label, r in rows.items():
            if label != "tcp_echo":
                out[label] = float(r["p50_us"]) / floor
        return out


def med(samples, key):
    return statistics.median(s[key] for s in samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--db", default=os.path.join(ROOT, "data", "sales.db"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--only", default="a,b,c,d,e,f")
    parser.add_argument("--load-extra", default="", help="TOML lines added to [load] of c, d and f (e.g. 'spin = \"50us\"')")
    args = parser.parse_args()
    only = set(args.only.split(","))
    for tool in ("h2load", "sockperf"):
        if not shutil.which(tool):
            sys.exit(f"compare_peers: {tool} is missing (apt-get install {'nghttp2-client' if tool == 'h2load' else tool})")
    bench = Bench(args)
    for exe in (bench.pathbench, bench.bare):
        if not os.access(exe, os.X_OK):
            sys.exit(f"compare_peers: {exe} is missing: cmake --build {args.build} --target pathbench pathbench_bare_sqlite")
    cache = os.path.join(args.build, "CMakeCache.txt")
    if os.path.exists(cache) and "CMAKE_BUILD_TYPE:STRING=Release" not in open(cache).read():
        print("WARNING: not a Release build; figures are not comparable", file=sys.stderr)

    res = {k: [] for k in ("a_pb", "a_h2", "b_pb", "b_h2", "c_pb", "c_sp", "d_pb", "d_sp", "e_pb", "e_bare", "f")}
    worker_port, echo_port, sp_port = free_port(), free_port(), free_port()
    try:
        with Server([bench.pathbench, "serve", "worker", "--listen", f"127.0.0.1:{worker_port}", "--ws-listen", "off",
                     "--db", bench.db, "--threads", "2", "--id", "worker-0"], worker_port) as worker, \
             Server([bench.pathbench, "serve", "echo", "--listen", f"127.0.0.1:{echo_port}"], echo_port), \
             Server(["sockperf", "sr", "--tcp", "-i", "127.0.0.1", "-p", str(sp_port)], sp_port):
            for rnd in range(args.rounds):
                print(f"round {rnd + 1}/{args.rounds} ...", file=sys.stderr, flush=True)
                if "a" in only:
                    res["a_pb"].append(bench.a_pathbench(worker_port))
                    res["a_h2"].append(bench.a_h2load(worker_port, res["a_pb"][-1]["rate"] * 2))
                if "b" in only:
                    res["b_pb"].append(bench.b_pathbench(worker_port))
                    res["b_h2"].append(bench.b_h2load(worker_port))
                if "c" in only:
                    res["c_pb"].append(bench.cd_pathbench(echo_port, 0))
                    res["c_sp"].append(bench.cd_sockperf(sp_port, 0))
                if "d" in only:
                    res["d_pb"].append(bench.cd_pathbench(echo_port, 1000))
                    res["d_sp"].append(bench.cd_sockperf(sp_port, 1000))
                if "e" in only:
                    res["e_pb"].append(bench.e_pathbench(worker))
                    res["e_bare"].append(bench.e_bare())
                if "f" in only:
                    res["f"].append(bench.f_pathbench())
    finally:
        bench.close()

    print(f"# compare_peers: medians of {args.rounds} interleaved runs of {args.seconds} s, {os.cpu_count()} CPUs")
    print(f"{'measure':<58} {'pathbench':>11} {'peer':>11} {'ratio':>7}")

    def line(what, ours, peer, unit=""):
        print(f"{what:<58} {ours:>9.1f}{unit:>2} {peer:>9.1f}{unit:>2} {ours / peer:>7.2f}")

    if res["a_pb"]:
        line("a gRPC unary max rate /s (2 conn x 32) vs h2load", med(res["a_pb"], "rate"), med(res["a_h2"], "rate"))
        line("a client CPU per request us vs h2load", med(res["a_pb"], "cpu_us"), med(res["a_h2"], "cpu_us"))
    if res["b_pb"]:
        line("b gRPC unary p50 us at 2,000/s (intended send) vs h2load", med(res["b_pb"], "p50"), med(res["b_h2"], "p50"))
        line("b   same, from the actual send", med(res["b_pb"], "p50_sent"), med(res["b_h2"], "p50"))
    if res["c_pb"]:
        line("c tcp_echo p50 us, 1 in flight vs sockperf RTT (own servers)", med(res["c_pb"], "p50"), med(res["c_sp"], "p50"))
    if res["d_pb"]:
        line("d tcp_echo p50 us at 1,000/s vs sockperf --mps 1000 RTT", med(res["d_pb"], "p50"), med(res["d_sp"], "p50"))
        line("d   same, from the actual send", med(res["d_pb"], "p50_sent"), med(res["d_sp"], "p50"))
    if res["e_pb"]:
        line("e heavy query max rate /s, 2 SQL threads vs bare sqlite3", med(res["e_pb"], "rate"), med(res["e_bare"], "rate"))
        line("e SQL-thread CPU per query us vs bare sqlite3", med(res["e_pb"], "sql_cpu_us"), med(res["e_bare"], "sql_cpu_us"))
        line("e worker process CPU per query us (all threads) vs bare", med(res["e_pb"], "worker_cpu_us"),
             med(res["e_bare"], "sql_cpu_us"))
    if res["f"]:
        print(f"f p50 at one in flight / tcp_echo p50 (tcp_echo p50 {med(res['f'], 'tcp_echo_p50'):.1f} us):")
        for label in res["f"][0]:
            if label != "tcp_echo_p50":
                print(f"  {label:<56} {med(res['f'], label):>7.2f}")


if __name__ == "__main__":
    main()
