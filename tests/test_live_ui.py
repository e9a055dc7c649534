#!/usr/bin/python3
"""`pathbench run --ui ADDR` in a real browser: a run of a few seconds with --ui on a free port;
while it runs, headless Chromium opens the live page and its DOM must show the path's row with a
rate and latencies filled in from /live.json; after the run (held by --ui-hold) the page shows
the finished summary and /report serves report.html.

    test_live_ui.py PATHBENCH_BINARY
Exit 0 passed, 1 failed, 77 skipped (no chromium).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

SCENARIO = """name = "live"
[load]
rate_per_s = 200
duration = "6s"
warmup = "0s"
[[path]]
kind = "tcp_echo"
"""


def dump_dom(chromium, profile, url):
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom", url]
    return subprocess.run(args, capture_output=True, text=True, timeout=120).stdout


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if not chromium:
        print("SKIP: chromium is not installed (Debian package chromium): the live page is not checked in a browser")
        return 77
    root = tempfile.mkdtemp(prefix="pathbench-ui-")
    failures = []

    def check(condition, what):
        print(("ok   " if condition else "FAIL ") + what)
        if not condition:
            failures.append(what)

    proc = None
    try:
        scenario = os.path.join(root, "live.toml")
        with open(scenario, "w") as f:
            f.write(SCENARIO)
        proc = subprocess.Popen([sys.argv[1], "run", scenario, "--out", os.path.join(root, "out"), "--ui",
                                 "127.0.0.1:0", "--ui-hold", "60s"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        address = None
        for line in proc.stdout:
            print(line, end="")
            m = re.match(r"live view: http://([0-9.]+:[0-9]+)/", line)
            if m:
                address = m.group(1)
                break
        check(address is not None, "run --ui prints the live page's address")
        if not address:
            return 1
        # Let a few seconds complete, then look while the run goes on.
        time.sleep(3)
        dom = dump_dom(chromium, os.path.join(root, "p1"), f"http://{address}/")
        row = re.search(r'<tr class="path-row"><td class="text">tcp_echo</td><td class="text">main</td>'
                        r"<td>(\d+)/6s</td><td>(\d+)</td><td>([0-9.]+)</td><td>([0-9.]+)</td>", dom)
        check(row is not None, "during the run the page shows tcp_echo's row from /live.json")
        if row:
            check(int(row.group(2)) > 0 and float(row.group(4)) > 0,
                  f"with a rate and a p99 (second {row.group(1)}: {row.group(2)} ok/s, p99 {row.group(4)} us)")
        check("<polyline" in dom, "and a p99 sparkline")
        # The end: the summary on the page and the report at /report.
        deadline = time.time() + 90
        finished = False
        for line in proc.stdout:
            print(line, end="")
            if line.startswith("live view: the finished run stays"):
                finished = True
                break
            if time.time() > deadline:
                break
        check(finished, "after the run the live page is held (--ui-hold)")
        dom = dump_dom(chromium, os.path.join(root, "p2"), f"http://{address}/")
        check("finished: results in" in dom and "tcp_echo: issued 1200 = ok 1200" in dom,
              "the finished page shows the summary with its accounting line")
        if os.path.exists(os.path.join(root, "out", "report.html")):
            with urllib.request.urlopen(f"http://{address}/report", timeout=10) as r:
                page = r.read().decode()
            check("<h2>Summary</h2>" in page, "/report serves the finished report.html")
            check('href="/report"' in dom, "the finished page links it")
        else:
            print("SKIP: no report.html (no matplotlib): /report is not checked")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)
    print(f"live ui: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
