"""Parse-time helpers for the Snakemake workflow: config checks and grid expansion.

Imported by ``workflow/rules/common.smk`` at every ``snakemake -n``/``--lint``: it must stay light
(standard library, yaml, no torch; methods are discovered by reading their files with ``ast``).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import methods as methods_pkg

STREAMS = ("j", "b", "k", "jm", "bm", "km")
DEFAULT_ENSEMBLES = {
    "2s": {"j": 1, "b": 1},
    "4s": {"j": 2, "b": 2, "jm": 1, "bm": 1},
    "6s": {"j": 2, "b": 2, "k": 2, "jm": 1, "bm": 1, "km": 1},
}
BACKBONE_VERSIONS = {"stgcnpp": "1", "ctrgcn": "1", "msg3d": "1"}
ENGINE_VERSION = "1"
DATA_VERSION = "1"


class WorkflowConfigError(ValueError):
    pass


@dataclass(frozen=True)
class SplitDef:
    split_id: str
    dataset: str
    benchmark: str
    ratio: str                 # "10", "100" or "natural"
    n_max: Optional[int]
    split_list: Optional[str]


@dataclass(frozen=True)
class MethodDef:
    id: str
    name: str
    fidelity: str
    options: Dict[str, Any]
    version: str
    stage1: Optional[str]


@dataclass(frozen=True)
class Run:
    split: SplitDef
    backbone: str
    method: MethodDef
    stream: str
    seed: int

    @property
    def path(self) -> str:
        return f"results/runs/{self.split.split_id}/{self.backbone}/{self.method.id}/{self.stream}/seed{self.seed}"


def _ratio_str(r: Any) -> str:
    if r is None or str(r) == "natural":
        return "natural"
    f = float(r)
    return str(int(f)) if f.is_integer() else str(f)


def dataset_root(config: Dict[str, Any], ds_id: str) -> Optional[str]:
    """``<id>_root`` at the top level (settable with --config) overrides datasets.<id>.root."""
    return config.get(f"{ds_id}_root") or config["datasets"][ds_id].get("root")


def check_roots(config: Dict[str, Any]) -> None:
    for ds_id, d in config["datasets"].items():
        if d["source"] == "synthetic":
            continue
        root = dataset_root(config, ds_id)
        if not root:
            raise WorkflowConfigError(f"dataset '{ds_id}': no raw data path; set datasets.{ds_id}.root in the "
                                      f"config or pass --config {ds_id}_root=/path/to/data")
        if not Path(root).exists():
            raise WorkflowConfigError(f"dataset '{ds_id}': root '{root}' does not exist; fix datasets.{ds_id}.root "
                                      f"in the config (or --config {ds_id}_root=PATH). See docs/datasets.md for "
                                      "where to download it.")


def splits(config: Dict[str, Any]) -> Dict[str, SplitDef]:
    out: Dict[str, SplitDef] = {}
    for ds_id, d in config["datasets"].items():
        lt = d.get("lt", {}) or {}
        for bench in d["benchmarks"]:
            ratio = _ratio_str(lt.get("ratio"))
            sid = f"{ds_id}_{bench}_{'natural' if ratio == 'natural' else 'lt' + ratio}"
            lists = lt.get("split_list") or {}
            n_max = lt.get("n_max")
            if isinstance(n_max, dict):
                if bench not in n_max:
                    raise WorkflowConfigError(f"dataset '{ds_id}': lt.n_max has no entry for benchmark '{bench}'")
                n_max = n_max[bench]
            out[sid] = SplitDef(sid, ds_id, bench, ratio, n_max, lists.get(bench))
    return out


def methods(config: Dict[str, Any]) -> Dict[str, MethodDef]:
    index = methods_pkg.method_index()
    entries = config["methods"]
    if entries == "all":
        entries = sorted(index)
    out: Dict[str, MethodDef] = {}
    for e in entries:
        e = {"name": e} if isinstance(e, str) else dict(e)
        name = e["name"]
        if name not in index:
            raise WorkflowConfigError(f"unknown method '{name}'; available: {', '.join(sorted(index))}")
        fid = e.get("fidelity", "paper")
        mid = e.get("id") or (name if fid == "paper" else f"{name}_official")
        if mid in out:
            raise WorkflowConfigError(f"method id '{mid}' appears twice in the config; give one entry an 'id'")
        out[mid] = MethodDef(mid, name, fid, dict(e.get("options", {}) or {}), index[name].get("version", "0"),
                             index[name].get("stage1"))
    for m in list(out.values()):
        if m.stage1 and not any(x.name == m.stage1 and x.fidelity == "paper" for x in out.values()):
            # the stage-1 run is part of the grid even if the config did not list it
            out[m.stage1] = MethodDef(m.stage1, m.stage1, "paper", {}, index[m.stage1].get("version", "0"),
                                      index[m.stage1].get("stage1"))
    return out


def backbones(config: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    out = {}
    for b in config["backbones"]:
        b = {"name": b} if isinstance(b, str) else dict(b)
        out[b.pop("name")] = b
    return out


def ensembles(config: Dict[str, Any]) -> Dict[str, Dict[str, float]]:
    ens = config.get("ensembles") or {}
    out = {}
    streams = set(config["streams"])
    for name, weights in ens.items():
        weights = DEFAULT_ENSEMBLES[name] if weights in (None, "default") else weights
        missing = sorted(set(weights) - streams)
        if missing:
            raise WorkflowConfigError(f"ensemble '{name}' needs stream(s) {missing}, which are not in 'streams'")
        out[name] = dict(weights)
    return out


def runs(config: Dict[str, Any]) -> List[Run]:
    sp, ms, bb = splits(config), methods(config), backbones(config)
    return [Run(s, b, m, st, int(seed)) for s in sp.values() for b in bb for m in ms.values()
            for st in config["streams"] for seed in config["seeds"]]


def run_spec(config: Dict[str, Any], split_id: str, backbone: str, method_id: str, stream: str, seed: int) -> str:
    """The result-relevant run configuration as canonical JSON (passed to the trainer as a param;
    no paths, threads or devices, so it only changes when the result would)."""
    s = splits(config)[split_id]
    m = methods(config)[method_id]
    d = config["datasets"][s.dataset]
    spec = {
        "dataset": s.dataset, "benchmark": s.benchmark, "split_id": split_id, "backbone": backbone,
        "method": m.name, "method_id": m.id, "stream": stream, "seed": int(seed), "fidelity": m.fidelity,
        "method_options": m.options, "backbone_options": backbones(config)[backbone],
        "schedule": dict(config["schedule"]), "augment": dict(config.get("augment", {}) or {}),
        "lt_profile": {"n_max": s.n_max, "ratio": s.ratio},
        "versions": {"method": m.version, "backbone": BACKBONE_VERSIONS.get(backbone, "0"),
                     "data": DATA_VERSION, "engine": ENGINE_VERSION, "normalize": d.get("normalize", "prenorm3d")},
    }
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def final_targets(config: Dict[str, Any]) -> List[str]:
    out = [f"{r.path}/metrics.json" for r in runs(config)]
    ens = ensembles(config)
    seen = set()
    for r in runs(config):
        for name in ens:
            p = f"results/runs/{r.split.split_id}/{r.backbone}/{r.method.id}/ens-{name}/seed{r.seed}/metrics.json"
            if p not in seen:
                seen.add(p)
                out.append(p)
    return out
