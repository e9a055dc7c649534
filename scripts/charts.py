#!/usr/bin/python3
"""Draw charts from pathbench results folders: scripts/charts.py RESULTS_DIR [RESULTS_DIR ...] [--out DIR].

The entry point `pathbench run` (src/cli/charts.h), the README and tests/test_charts.py use; the code is the package
scripts/charts/ next to this file (its docstring, also `--help`, says what is drawn).
"""
import os
import sys

# The package folder scripts/charts/ takes precedence over this file for `import charts`.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from charts.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv))
