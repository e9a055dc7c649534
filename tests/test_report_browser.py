#!/usr/bin/python3
"""report.html in a real browser: `pathbench run` on a short scenario draws report.html; a copy of
it ALONE in another folder (so any relative link would break) is opened by headless Chromium, with
a small script appended to the copy that writes, once the page has loaded, how many images decoded
(naturalWidth > 0). Checks the dumped DOM for that count, the summary rows, the accounting line and
the sections, and that nothing outside the file is referenced.

    test_report_browser.py PATHBENCH_BINARY
Exit 0 passed, 1 failed, 77 skipped (no chromium, or no matplotlib for the charts).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SCENARIO = """name = "browser"
description = "one echo path for the report test"
[load]
rate_per_s = 300
duration = "1s"
warmup = "0s"
[[path]]
kind = "tcp_echo"
[slo]
p99 = "10s"
"""

PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var p = document.createElement("p");
  p.id = "probe";
  p.textContent = "IMAGES DECODED " + ok + " OF " + imgs.length;
  document.body.appendChild(p);
});
</script>"""


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    chromium = find_chromium()
    if not chromium:
        print("SKIP: chromium is not installed (Debian package chromium): report.html is not checked in a browser")
        return 77
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("SKIP: /usr/bin/python3 has no matplotlib (Debian package python3-matplotlib): no report.html to check")
        return 77
    root = tempfile.mkdtemp(prefix="pathbench-browser-")
    failures = []

    def check(condition, what):
        print(("ok   " if condition else "FAIL ") + what)
        if not condition:
            failures.append(what)

    try:
        scenario = os.path.join(root, "browser.toml")
        with open(scenario, "w") as f:
            f.write(SCENARIO)
        out = os.path.join(root, "out")
        r = subprocess.run([binary, "run", scenario, "--out", out], capture_output=True, text=True, timeout=120)
        print(r.stdout + r.stderr)
        check(r.returncode == 0, "pathbench run exits 0")
        report = os.path.join(out, "report.html")
        check(os.path.exists(report), "report.html is drawn by `pathbench run` itself")
        if not os.path.exists(report):
            return 1
        with open(report) as f:
            page = f.read()
        check(not re.search(r'(src|href)="(?!data:)[^"#]', page.replace('data-src="', 'data-name="')),
              "report.html references no file or URL (every src is a data: URI)")
        # Alone in another folder, with the probe appended.
        alone = os.path.join(root, "mailed")
        os.makedirs(alone)
        copy = os.path.join(alone, "report.html")
        with open(copy, "w") as f:
            f.write(page.replace("</body>", PROBE + "</body>"))
        profile = os.path.join(root, "profile")
        args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", "file://" + copy]
        dom = subprocess.run(args, capture_output=True, text=True, timeout=120)
        text = dom.stdout
        m = re.search(r"IMAGES DECODED (\d+) OF (\d+)", text)
        check(m is not None, "chromium loaded the page and ran its load handler")
        if m:
            check(int(m.group(2)) >= 3 and m.group(1) == m.group(2),
                  f"every chart decoded in the browser ({m.group(1)} of {m.group(2)})")
        check(re.search(r"<td class=\"text\">tcp_echo</td>", text) is not None, "the summary table has the tcp_echo row")
        check("p99 µs" in text, "the summary table says its unit (µs)")
        check("tcp_echo: issued 300 = ok 300" in text, "the accounting line is there")
        for section in ("Objectives", "Accounting", "Charts", "Machine", "Scenario as run"):
            check(f"<h2>{section}" in text, f"the {section} section is there")
        shot = os.path.join(root, "shot.png")
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        f"--user-data-dir={profile}", "--window-size=1400,2400", "--virtual-time-budget=10000",
                        f"--screenshot={shot}", "file://" + copy], capture_output=True, text=True, timeout=120)
        # A blank page compresses to a few kB; the charts and tables make it far larger.
        check(os.path.exists(shot) and os.path.getsize(shot) > 50000,
              f"the screenshot is not blank ({os.path.getsize(shot) if os.path.exists(shot) else 0} bytes)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"browser: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
