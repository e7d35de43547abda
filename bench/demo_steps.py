"""Bench f: `make demo`'s wall time, by step.

Runs `fedcost demo` (the main job: synthetic hospitals, validation, keys, the
federation on the deployment engine, result tables, the reports) into a
temporary folder and times each of its numbered steps from the moment its
header line appears; the process's own start (imports) is reported apart.
Target (BENCHMARKS.md): under 90 s.

    .venv/bin/python bench/demo_steps.py [--engine deployment] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEP = re.compile(r"^\[(\d+)/(\d+)\] (.*)$")
TARGET = 90.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", default="deployment", choices=["deployment", "simulation", "local"])
    ap.add_argument("--quick", action="store_true", help="English reports only")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    fedcost = Path(sys.executable).parent / "fedcost"
    with tempfile.TemporaryDirectory(prefix="fedcost-bench-f-") as tmp:
        cmd = [str(fedcost), "demo", "--engine", args.engine, "--work", f"{tmp}/work", "--out", f"{tmp}/reports",
               *(["--lang", "en"] if args.quick else [])]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        marks, log = [("start-up (imports)", t0)], []
        for line in proc.stdout:
            log.append(line)
            m = STEP.match(line.rstrip())  # the numbered steps start a line; a report's [k/8] is indented
            if m:
                marks.append((m.group(3).split(":")[0], time.monotonic()))
        code = proc.wait()
        end = time.monotonic()
    if code:
        sys.stdout.write("".join(log[-30:]))
        raise SystemExit(f"fedcost demo failed (exit {code})")
    steps = [(name, (marks[i + 1][1] if i + 1 < len(marks) else end) - t) for i, (name, t) in enumerate(marks)]
    total = end - t0
    for name, secs in steps:
        print(f"  {name:<42} {secs:6.1f} s")
    print(f"  {'total':<42} {total:6.1f} s  ({total / TARGET:.2f}x the {TARGET:.0f} s target: "
          f"{'PASS' if total <= TARGET else 'MISS'})")
    if args.json:
        Path(args.json).write_text(json.dumps({"engine": args.engine, "steps": dict(steps), "total": total}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
