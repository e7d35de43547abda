"""A study submitted to a running coordinator: the job inside the run config, results back in the log stream.

A researcher's machine and the coordinator's host share no folder. So the
submission carries the whole job (the plan's analyses and parameters, the
dictionary's fingerprint, the disclosure rules asked for) as JSON in the
Flower run config, and the ServerApp prints its progress and the released
output as marked lines that ``flwr run --stream`` relays back.

On the coordinator's host the ServerApp takes what is the coordinator's own
from the coordinator's own settings (``$FEDCOST_COORDINATOR_HOME/coordinator.json``,
written by ``fedcost coordinator start``): its public CKKS context and its
audit log. A submission cannot name a file there: paths in a submitted job are
dropped, and nothing of the study is written on the coordinator's disk but its
audit log (digests, byte counts, reason codes).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from fedcost.errors import FederationError, UsageError
from fedcost.federation.coordinator import PROGRESS_LINE as PROGRESS

HOME_ENV = "FEDCOST_COORDINATOR_HOME"
SETTINGS = "coordinator.json"
OUTPUT = "FEDCOST-OUTPUT "
ERROR = "FEDCOST-ERROR "
# Keys of a job that name files or settings of the coordinator's host: never taken from a submission.
COORDINATOR_OWN = ("public_key", "audit_log", "output", "progress_file", "dictionary_path")
CHUNK = 8000  # characters per output line: well inside a log line


def coordinator_settings() -> dict | None:
    """The running coordinator's own settings, or None outside ``fedcost coordinator start``."""
    home = os.environ.get(HOME_ENV)
    if not home:
        return None
    with open(Path(home) / SETTINGS, encoding="utf-8") as fh:
        return json.load(fh)


def coordinator_job(run_config: dict) -> dict:
    """The job the ServerApp serves: submitted in the run config, or a file of the one-machine engines."""
    submitted = str(run_config.get("job", ""))
    if not submitted:
        with open(str(run_config["job-file"]), encoding="utf-8") as fh:
            return json.load(fh)
    try:
        job = json.loads(submitted)
    except ValueError as exc:
        raise UsageError(f"the submitted job is not JSON: {exc}") from None
    if not isinstance(job, dict) or not isinstance(job.get("analyses"), dict):
        raise UsageError("the submitted job holds no analyses")
    own = coordinator_settings()
    if own is None:
        raise FederationError("a submitted study needs a coordinator started with `fedcost coordinator start`")
    job = {k: v for k, v in job.items() if k not in COORDINATOR_OWN}
    job.update(public_key=own["public_key"], audit_log=own["audit_log"], progress_file="-")
    return job


def emit_output(run_config: dict, output: dict) -> None:
    """Print the released output for the researcher (a submitted study only), in marked chunks."""
    if not str(run_config.get("job", "")):
        return
    text = base64.b64encode(json.dumps(output).encode()).decode()
    sha = hashlib.sha256(text.encode()).hexdigest()
    chunks = [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)] or [""]
    for i, chunk in enumerate(chunks):
        print(f"{OUTPUT}{i + 1}/{len(chunks)} {sha} {chunk}", flush=True)


def emit_error(run_config: dict, exc: BaseException) -> None:
    """Print why the study stopped (a submitted study only): the coordinator's message, no traceback."""
    if str(run_config.get("job", "")):
        print(ERROR + json.dumps({"error_type": type(exc).__name__, "message": str(exc)}), flush=True)


def parse_stream(text: str) -> tuple[dict | None, dict | None, list[dict]]:
    """(output, error, progress events) from the lines ``flwr run --stream`` printed."""
    parts: dict[int, str] = {}
    total, sha, error, events = 0, None, None, []
    for line in text.splitlines():
        at = max(line.find(PROGRESS), line.find(OUTPUT), line.find(ERROR))
        if at < 0:
            continue
        line = line[at:]
        if line.startswith(PROGRESS):
            try:
                events.append(json.loads(line[len(PROGRESS):]))
            except ValueError:
                pass
        elif line.startswith(ERROR):
            try:
                error = json.loads(line[len(ERROR):])
            except ValueError:
                error = {"message": line[len(ERROR):]}
        else:
            pos, sha, chunk = (line[len(OUTPUT):].split(" ", 2) + [""])[:3]
            i, total = (int(x) for x in pos.split("/"))
            parts[i] = chunk
    if not parts:
        return None, error, events
    if sorted(parts) != list(range(1, total + 1)):
        raise FederationError(f"the coordinator's output arrived incomplete ({len(parts)} of {total} parts)")
    text = "".join(parts[i] for i in range(1, total + 1))
    if hashlib.sha256(text.encode()).hexdigest() != sha:
        raise FederationError("the coordinator's output arrived corrupted (digest mismatch)")
    return json.loads(base64.b64decode(text)), error, events
