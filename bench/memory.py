"""Bench b: one hospital client's peak memory and time against its rows (Parquet).

A deployment-engine fit of the Gamma cost model over three hospitals: BIG
with ROWS records (default 1M, 5M, 20M) and two of 2,000. The worker of BIG
(`fedcost.federation.worker`, the process that reads the data, validates it
with the record-id uniqueness check, builds the design and computes every
round's statistics) is sampled every 0.2 s from /proc:

  anonymous   Anonymous: of /proc/PID/smaps_rollup (heap, arrays: what grows with rows)
  file        Rss - Anonymous (memory-mapped file pages and shared libraries; the kernel can drop them)
  peak RSS    VmHWM of /proc/PID/status

and the fit's wall time. Targets (BENCHMARKS.md): anonymous memory flat in
rows and under 1 GiB at 20M; time linear in rows. A size whose memory,
projected linearly from the previous size, would not fit in 70 % of the
machine's available memory is reported as not run, with the projection.

    .venv/bin/python bench/memory.py [--rows 1000000 5000000 20000000] [--quick]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

FORMULA = "cost_total ~ age + los + comorbidity_score + C(drg_code) + C(hospital_level)"
GiB = 1 << 30


def _kib(text: str, key: str) -> int:
    for line in text.splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return 0


class Sampler(threading.Thread):
    """Peaks of the worker serving ``label`` (found by its command line), every ``every`` seconds."""

    def __init__(self, label: str, every: float = 0.2):
        super().__init__(daemon=True)
        self.label, self.every, self.stop = f"/hospitals/{label}/", every, threading.Event()
        self.anon = self.file = self.hwm = 0

    def _pid(self):
        import psutil

        for p in psutil.process_iter(["pid", "cmdline"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if "fedcost.federation.worker" in cmd and self.label in cmd:
                return p.pid
        return None

    def run(self):
        pid = None
        while not self.stop.is_set():
            pid = pid or self._pid()
            if pid:
                try:
                    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    pid = None
                else:
                    anon, rss = _kib(rollup, "Anonymous:"), _kib(rollup, "Rss:")
                    self.anon, self.file = max(self.anon, anon), max(self.file, rss - anon)
                    self.hwm = max(self.hwm, _kib(status, "VmHWM:"))
            self.stop.wait(self.every)


def measure(rows: int, folder: Path) -> dict:
    from fedcost.data.synth import write
    from fedcost.models.irls import GLMAnalysis
    from fedcost.researcher import run_study

    big = [p for p in write(folder / "big", 1, rows, 7, fmt="parquet") if p.suffix == ".parquet"][0]
    big = big.rename(folder / "BIG.parquet")
    small = [p for p in write(folder / "small", 2, 2000, 11, fmt="parquet") if p.suffix == ".parquet"]
    import pyarrow.parquet as pq

    n = pq.ParquetFile(big).metadata.num_rows
    sampler = Sampler("BIG")
    sampler.start()
    t = time.perf_counter()
    study = run_study({"m": GLMAnalysis(FORMULA, "gamma")}, [big, *small], engine="deployment",
                      workdir=folder / "run")
    took = time.perf_counter() - t
    sampler.stop.set()
    sampler.join()
    return {"rows": n, "seconds": took, "anonymous": sampler.anon, "file": sampler.file, "peak_rss": sampler.hwm,
            "status": study.status("m"), "file_bytes": big.stat().st_size}


def main(argv=None) -> int:
    import psutil

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000, 20_000_000])
    ap.add_argument("--quick", action="store_true", help="100k and 400k rows")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    sizes = [100_000, 400_000] if args.quick else args.rows
    out, last = [], None
    print(f"{'rows':>12} {'seconds':>8} {'s/Mrow':>7} {'anon GiB':>9} {'file GiB':>9} {'peak RSS GiB':>13}  status")
    for rows in sizes:
        if last and last["anonymous"]:
            projected = last["anonymous"] * rows / last["rows"]
            if projected > 0.7 * psutil.virtual_memory().available:
                print(f"{rows:>12,} not run: anonymous memory projected at {projected / GiB:.1f} GiB "
                      f"({last['anonymous'] / GiB:.2f} GiB at {last['rows']:,} rows)")
                out.append({"rows": rows, "not_run": True, "projected_anonymous": projected})
                continue
        with tempfile.TemporaryDirectory(prefix="fedcost-bench-b-") as tmp:
            m = measure(rows, Path(tmp))
        print(f"{m['rows']:>12,} {m['seconds']:8.1f} {m['seconds'] / m['rows'] * 1e6:7.1f} "
              f"{m['anonymous'] / GiB:9.2f} {m['file'] / GiB:9.2f} {m['peak_rss'] / GiB:13.2f}  {m['status']}",
              flush=True)
        out.append(m)
        last = m
    done = [m for m in out if not m.get("not_run")]
    if len(done) >= 2:
        a, b = done[0], done[-1]
        print(f"anonymous memory grew {b['anonymous'] / a['anonymous']:.1f}x for {b['rows'] / a['rows']:.1f}x rows "
              f"(target: flat, under 1 GiB at 20M); time grew {b['seconds'] / a['seconds']:.1f}x (target: linear)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
