"""Typed descriptions of one engine run: the hospitals (nodes) and the run folder, normalised here only.

A hospital reaches an engine as a ``Node`` (or a plain dict with the same
keys, as a notebook writes it) and leaves it as its SuperNode's flat
``--node-config`` (deployment) or one entry of ``nodes.json`` (simulation):
``Node.config()`` is that flat form, and what the hospital's handler gets as
its ``node`` dict. ``prepare`` turns a job and nodes into a ``Run``: the run
folder cleared of any earlier run, the job file written, the node folders made.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedcost.engines.entrypoints import DEFAULT_PROTOCOL, PROTOCOLS
from fedcost.errors import UsageError

LABEL = re.compile(r"[A-Za-z0-9_.-]+")

# What one run leaves in its folder that the next run must not read: Flower's
# config and state, logs (the startup wait counts "Activated node_id" lines, so a
# previous run's lines would let it start `flwr run` before the SuperLink is up),
# Ray's session, and the coordinator's output. Hospitals' work folders stay:
# their caches are keyed by the data file's identity.
RUN_STATE = ("logs", "flwr_home", "ray", "tls", "output.json", "progress.jsonl", "status.json", "job.json",
             "run_config.toml", "nodes.json")


@dataclass(frozen=True)
class Node:
    """One hospital as an engine starts it."""

    label: str
    work_dir: Path
    data_path: Path | None = None
    key_path: Path | None = None
    protocol: str = DEFAULT_PROTOCOL
    settings: dict[str, Any] = field(default_factory=dict)  # other str/int/float/bool node settings

    def config(self) -> dict[str, Any]:
        """The flat node config: what the SuperNode's --node-config and the hospital's handler hold."""
        out: dict[str, Any] = {"hospital": self.label, "work-dir": str(self.work_dir), "protocol": self.protocol}
        if self.data_path is not None:
            out["data-path"] = str(self.data_path)
        if self.key_path is not None:
            out["key-path"] = str(self.key_path)
        return {**self.settings, **out}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, os.PathLike)):
        return json.dumps(str(value))  # JSON string escapes are valid TOML basic strings
    raise UsageError(f"config values must be str, int, float or bool, not {type(value).__name__}"
                     f" ({value!r})")


def toml_dumps(flat: dict[str, Any]) -> str:
    """A flat dict as TOML (keys quoted, values str/int/float/bool)."""
    return "".join(f"{json.dumps(str(k))} = {toml_value(v)}\n" for k, v in flat.items())


def normalize_nodes(nodes, workdir: Path, protocol: str = DEFAULT_PROTOCOL) -> list[Node]:
    """Nodes (``Node`` or dicts) with unique labels (default H01...), work folders and absolute paths."""
    if not nodes:
        raise UsageError("at least one hospital (node) is needed")
    out, seen = [], set()
    for i, raw in enumerate(nodes):
        d = raw.config() if isinstance(raw, Node) else {str(k): v for k, v in dict(raw).items() if v is not None}
        label = str(d.pop("hospital", None) or f"H{i + 1:02d}")
        if label in seen:
            raise UsageError(f"two hospitals have the label {label!r}")
        if not LABEL.fullmatch(label):
            raise UsageError(f"hospital label {label!r}: use letters, digits, '_', '-', '.'")
        seen.add(label)
        work = Path(d.pop("work-dir", None) or Path(workdir) / "nodes" / label / "work").resolve()
        data, key = d.pop("data-path", None), d.pop("key-path", None)
        d.pop("protocol", None)  # the engine's protocol: the engine starts these hospitals
        for v in d.values():
            toml_value(v)  # raises UsageError for unsupported values
        out.append(Node(label, work, Path(data).resolve() if data else None, Path(key).resolve() if key else None,
                        protocol, d))
    return out


@dataclass(frozen=True)
class Run:
    """One engine run: its folder, the coordinator's job (with its output files) and the hospitals."""

    workdir: Path
    job: dict
    nodes: list[Node]
    protocol: str

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    @property
    def flwr_home(self) -> Path:
        return self.workdir / "flwr_home"

    @property
    def progress_file(self) -> Path:
        return Path(self.job["progress_file"])

    def node_dir(self, node: Node) -> Path:
        return self.workdir / "nodes" / node.label

    def write_run_config(self, *, timeout: float, node_timeout: float, poll_interval: float,
                         nodes_file: str = "") -> Path:
        """The Flower run config: where the job is, which protocol, the timeouts. Names no code."""
        path = self.workdir / "run_config.toml"
        path.write_text(toml_dumps({
            "job-file": str(self.workdir / "job.json"),
            "protocol": self.protocol,
            "expected-nodes": len(self.nodes),
            "node-timeout": float(node_timeout),
            "exchange-timeout": float(timeout),
            "poll-interval": float(poll_interval),
            "status-file": str(self.workdir / "status.json"),
            "nodes-file": nodes_file,
        }), encoding="utf-8")
        return path


def clear_run_state(workdir: Path) -> None:
    """Remove what an earlier run left in ``workdir``, so every run starts clean in a reused folder."""
    targets = [workdir / name for name in RUN_STATE]
    nodes_dir = workdir / "nodes"
    if nodes_dir.is_dir():
        for ndir in nodes_dir.iterdir():
            targets += [ndir / "flwr_home", ndir / "node_config.toml"]
    for target in targets:
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)


def prepare(job: dict, nodes, workdir: Path, protocol: str = DEFAULT_PROTOCOL) -> Run:
    """Clear and create the run folder, write the job file; each hospital answers with ``protocol``."""
    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown protocol {protocol!r}; known: {', '.join(sorted(PROTOCOLS))}")
    workdir = Path(workdir).resolve()
    clear_run_state(workdir)
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    typed = normalize_nodes(nodes, workdir, protocol)
    for node in typed:
        node.work_dir.mkdir(parents=True, exist_ok=True)
    job = {**job, "output": str(workdir / "output.json"), "progress_file": str(workdir / "progress.jsonl")}
    (workdir / "job.json").write_text(json.dumps(job, indent=1), encoding="utf-8")
    return Run(workdir, job, typed, protocol)
