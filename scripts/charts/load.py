"""The results folder as charts.py reads it: summary.csv and the other CSV files as rows of dicts,
.hgrm percentile files, and the names report/writer.cpp gives them."""
import csv
import math
import os
import re


HGRM_ROW = re.compile(r"^\s*([0-9.]+)\s+([0-9.]+)\s+([0-9]+)\s*([0-9.]+|inf)?\s*$")
UNMEASURED_PHASES = ("warmup", "drain")


def read_hgrm(path):
    """(value_us, percentile 0..1) rows of an HdrHistogram percentile-distribution file."""
    rows = []
    with open(path) as f:
        for line in f:
            m = HGRM_ROW.match(line)
            if m:
                rows.append((float(m.group(1)), float(m.group(2))))
    return rows


def read_csv(folder, name):
    """The rows of FOLDER/NAME as dicts, or None when the file is not there."""
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_summary(folder):
    """The rows of every path and phase (request_kind "all"); the per-kind rows are read by kinds.py."""
    rows = read_csv(folder, "summary.csv")
    return None if rows is None else [r for r in rows if r.get("request_kind", "all") in ("", "all")]


def num(row, key):
    """The cell as a float; nan when empty, absent or not a number."""
    try:
        return float(row.get(key, "") or "nan")
    except ValueError:
        return math.nan


def measured_ok(rows):
    """Rows of paths that ran and completed something: the only ones with latencies to draw."""
    return [r for r in rows if r.get("failure", "") == "" and num(r, "ok") > 0]


def phases_per_path(rows):
    counts = {}
    for r in rows:
        counts[r["path"]] = counts.get(r["path"], 0) + 1
    return counts


def hgrm_name(row, measured_phases, variant=""):
    # As report/writer.cpp names them: the phase is left out when it is the only one, "main".
    name = row["path"]
    if not (measured_phases == 1 and row["phase"] == "main"):
        name += "." + row["phase"]
    if variant:
        name += "." + variant
    return name + ".hgrm"


def row_label(row, phases):
    return row["path"] if phases.get(row["path"], 1) == 1 and row["phase"] == "main" else f'{row["path"]} ({row["phase"]})'


def spectrum_points(file):
    return [(1.0 / (1.0 - p), v) for v, p in read_hgrm(file) if p < 1.0]
