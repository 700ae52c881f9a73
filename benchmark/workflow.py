"""Parse-time helpers for the Snakemake workflow: config checks and grid expansion.

Imported by ``workflow/rules/common.smk`` at every ``snakemake -n``/``--lint``: it must stay light
(standard library, yaml, no torch; methods are discovered by reading their files with ``ast``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import methods as methods_pkg
from benchmark import hostinfo, recipes, versions
from benchmark.data.lt_lists import OfficialListError, resolve_split_list
from benchmark.data.validation import ValidationSplitError, planned_validation

STREAMS = ("j", "b", "k", "jm", "bm", "km")
DEFAULT_ENSEMBLES = {
    "2s": {"j": 1, "b": 1},
    "4s": {"j": 2, "b": 2, "jm": 1, "bm": 1},
    "6s": {"j": 2, "b": 2, "k": 2, "jm": 1, "bm": 1, "km": 1},
}


#: ids that become folder names (experiments, datasets, benchmarks, method ids): no spaces, no
#: shell metacharacters, no path separators, not starting with a dot or dash.
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
RESERVED_EXPERIMENTS = ("data", "splits")     # shared folders beside the experiments in results/
#: readers that take the dataset's ``layout`` as an option (the others know their layout)
LAYOUT_READERS = ("generic",)


class WorkflowConfigError(ValueError):
    pass


def experiment_name(config: Dict[str, Any], configfiles: Sequence[str] = ()) -> str:
    """The experiment a config's runs belong to: ``experiment`` if set, else the stem of the last
    config file (``config/demo.yaml`` → ``demo``). Runs, tables and reports live under
    ``results/<experiment>/`` and ``reports/<experiment>/``, so two configs never mix."""
    name = config.get("experiment")
    if not name:
        name = Path(configfiles[-1]).stem if configfiles else "default"
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).lstrip("._-") or "default"
    name = str(name)
    if not SAFE_ID.match(name) or name in RESERVED_EXPERIMENTS:
        raise WorkflowConfigError(f"experiment '{name}': use letters, digits, '_', '.', '-' (not starting with "
                                  f"'.' or '-'), and not {' or '.join(RESERVED_EXPERIMENTS)}; set "
                                  "'experiment: NAME' in the config or --config experiment=NAME")
    return name


def experiment_dir(config: Dict[str, Any]) -> str:
    """``results/<experiment>`` (the workflow stores the resolved name in config['experiment'])."""
    return f"results/{config.get('experiment') or 'default'}"


def runs_dir(config: Dict[str, Any]) -> str:
    return f"{experiment_dir(config)}/runs"


@dataclass(frozen=True)
class SplitDef:
    split_id: str
    dataset: str
    benchmark: str
    ratio: str                 # "10", "100" or "natural"
    n_max: Optional[int]
    split_list: Optional[str]
    #: the dataset's Many/Few thresholds as canonical JSON ('' = the defaults 100 / 20)
    thresholds: str = ""


@dataclass(frozen=True)
class MethodDef:
    id: str
    name: str
    fidelity: str
    options: Dict[str, Any]
    version: str
    stage1: Optional[str]
    #: recipe overrides of this entry (e.g. the plain-backbone recipe: clip 100, 16 epochs, no aug.)
    schedule: Dict[str, Any] = field(default_factory=dict)
    augment: Dict[str, Any] = field(default_factory=dict)
    #: seeds of this entry (default: the config's top-level ``seeds``)
    seeds: Optional[Tuple[int, ...]] = None
    #: a candidate of a validation sweep (e.g. ``wb_wd0.001``): the id of the row it competes for
    sweep_of: Optional[str] = None


@dataclass(frozen=True)
class Run:
    split: SplitDef
    backbone: str
    method: MethodDef
    stream: str
    seed: int

    @property
    def rel(self) -> str:
        """The run's folder below ``results/<experiment>/runs`` (and ``…/ckpt``)."""
        return f"{self.split.split_id}/{self.backbone}/{self.method.id}/{self.stream}/seed{self.seed}"


def _ratio_str(r: Any) -> str:
    if r is None or str(r) == "natural":
        return "natural"
    f = float(r)
    return str(int(f)) if f.is_integer() else str(f)


def dataset_root(config: Dict[str, Any], ds_id: str) -> Optional[str]:
    """``<id>_root`` at the top level (settable with --config) overrides datasets.<id>.root."""
    return config.get(f"{ds_id}_root") or config["datasets"][ds_id].get("root")


def dataset_options(config: Dict[str, Any], ds_id: str) -> Dict[str, Any]:
    """Reader options of one dataset, with command-line path overrides applied.

    ``<id>_<option>`` at the top level, for an option ending in ``_root`` (e.g.
    ``--config kinetics_kpfile_root=/data/k400/kpfiles``), replaces ``options.<option>``."""
    d = config["datasets"][ds_id]
    opts = dict(d.get("options", {}) or {})
    if d.get("layout") is not None and d["source"] in LAYOUT_READERS:
        # the dataset's layout (a built-in name or a custom mapping) is the reader's layout option
        if "layout" in opts and opts["layout"] != d["layout"]:
            raise WorkflowConfigError(f"dataset '{ds_id}': layout is given twice (datasets.{ds_id}.layout and "
                                      f"datasets.{ds_id}.options.layout) with different values; keep "
                                      f"datasets.{ds_id}.layout only")
        opts["layout"] = d["layout"]
    prefix = f"{ds_id}_"
    for key, value in config.items():
        if key.startswith(prefix) and key.endswith("_root") and key != f"{ds_id}_root" and value:
            opts[key[len(prefix):]] = value
    return opts


def selected_datasets(config: Dict[str, Any]) -> List[str]:
    """Datasets whose splits appear in the selected grid (``select_tables`` / ``select_datasets``)."""
    only = _csv(config.get("select_datasets"))
    if only:
        unknown = sorted(set(only) - set(config["datasets"]))
        if unknown:
            raise WorkflowConfigError(f"select_datasets: unknown dataset(s) {unknown}; available: "
                                      f"{sorted(config['datasets'])}")
    sp = splits(config)
    used = {sp[s].dataset for g in table_grids(config).values() for s in g["splits"]}
    return sorted(used)


def selected_splits(config: Dict[str, Any]) -> Dict[str, "SplitDef"]:
    """The splits the selected grid uses: only their prepare/split jobs enter the DAG."""
    sp = splits(config)
    used = {s for g in table_grids(config).values() for s in g["splits"]}
    return {k: v for k, v in sp.items() if k in used}


def check_roots(config: Dict[str, Any]) -> None:
    """Every selected dataset's raw data path exists (unselected datasets are not checked)."""
    for ds_id in selected_datasets(config):
        d = config["datasets"][ds_id]
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
            try:    # 'official' -> the packaged list for this benchmark and ratio, or a path
                split_list = resolve_split_list(ds_id, d, bench)
            except OfficialListError as e:
                raise WorkflowConfigError(str(e)) from e
            n_max = lt.get("n_max")
            if isinstance(n_max, dict):
                if bench not in n_max:
                    raise WorkflowConfigError(f"dataset '{ds_id}': lt.n_max has no entry for benchmark '{bench}'")
                n_max = n_max[bench]
            th = d.get("thresholds")
            out[sid] = SplitDef(sid, ds_id, bench, ratio, n_max, split_list,
                                json.dumps(th, sort_keys=True, separators=(",", ":")) if th else "")
    return out


def methods(config: Dict[str, Any], candidates: bool = False) -> Dict[str, MethodDef]:
    """The config's method rows by id (stage-1 methods of stage-2 rows included). ``candidates``:
    also every sweep candidate (``wb_wd0.0005``, …) of a swept row, whichever split needs it."""
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
        seeds = tuple(int(x) for x in e["seeds"]) if e.get("seeds") else None
        out[mid] = MethodDef(mid, name, fid, dict(e.get("options", {}) or {}), index[name].get("version", "0"),
                             index[name].get("stage1"), dict(e.get("schedule", {}) or {}),
                             dict(e.get("augment", {}) or {}), seeds)
    for m in list(out.values()):
        if m.stage1 and not any(x.name == m.stage1 and x.fidelity == "paper" for x in out.values()):
            # the stage-1 run is part of the grid even if the config did not list it
            out[m.stage1] = MethodDef(m.stage1, m.stage1, "paper", {}, index[m.stage1].get("version", "0"),
                                      index[m.stage1].get("stage1"))
    if candidates:
        for m in list(out.values()):
            for c in _sweep_candidates(m, index):
                out[c.id] = c
    return out


def _sweep_candidates(m: MethodDef, index: Dict[str, Dict[str, Any]]) -> List[MethodDef]:
    """The candidate rows of ``m``'s validation sweep (``SWEEP`` of its method file): one per grid
    value, id ``<id>_<prefix><value>``. None if the method declares no sweep or the config sets the
    swept option itself (an explicit value is kept)."""
    sweep = (index.get(m.name) or {}).get("sweep")
    if not sweep or m.sweep_of or sweep["option"] in m.options:
        return []
    return [MethodDef(f"{m.id}_{sweep['id_prefix']}{float(v):g}", m.name, m.fidelity,
                      {**m.options, sweep["option"]: v}, m.version, m.stage1, m.schedule, m.augment, m.seeds,
                      sweep_of=m.id)
            for v in sweep["grid"]]


def split_has_validation(config: Dict[str, Any], split: SplitDef) -> bool:
    """Whether the plan expects a held-out validation split for ``split`` (decided from the config;
    benchmark.data.validation.planned_validation)."""
    try:
        return planned_validation(config["datasets"][split.dataset], split.ratio, split.dataset)[0]
    except ValidationSplitError as e:
        raise WorkflowConfigError(str(e)) from e


def sweep_candidates(config: Dict[str, Any], split: SplitDef, m: MethodDef) -> List[MethodDef]:
    """The candidates the workflow trains for row ``m`` on ``split`` (empty: ``m`` trains itself)."""
    if not split_has_validation(config, split):
        return []
    return _sweep_candidates(m, methods_pkg.method_index())


def swept(config: Dict[str, Any]) -> Tuple[List[str], List[str]]:
    """(split ids, method ids) whose rows come from the sweep selection step, not from training."""
    sp, ms = selected_splits(config), methods(config)
    index = methods_pkg.method_index()
    split_ids = sorted(s for s, d in sp.items() if split_has_validation(config, d))
    method_ids = sorted(m.id for m in ms.values() if _sweep_candidates(m, index))
    return (split_ids, method_ids) if split_ids and method_ids else ([], [])


def sweep_candidate_dirs(config: Dict[str, Any], split_id: str, backbone: str, method_id: str, stream: str,
                         seed: int) -> List[str]:
    """The candidates' run folders the selection step of one swept run reads."""
    cands = sweep_candidates(config, splits(config)[split_id], methods(config)[method_id])
    return [f"{runs_dir(config)}/{split_id}/{backbone}/{c.id}/{stream}/seed{seed}" for c in cands]


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


def _csv(value: Any) -> Optional[List[str]]:
    """A selection given on the command line: 'III,VI' (``--config`` values arrive as strings)."""
    if value in (None, "", "all"):
        return None
    return [v.strip() for v in (value if isinstance(value, list) else str(value).split(",")) if v.strip()]


def table_grids(config: Dict[str, Any]) -> Dict[str, Dict[str, List[str]]]:
    """Sub-grids per paper table (config ``tables``), or one grid = the whole cross product.

    ``--config select_tables=III,VI`` and ``--config select_datasets=ntu60`` narrow the grid."""
    sp, ms, bb = splits(config), methods(config), backbones(config)
    full = {"splits": list(sp), "backbones": list(bb), "methods": list(ms), "streams": list(config["streams"]),
            "ensembles": list(ensembles(config))}
    tables = config.get("tables") or {"all": {}}
    chosen = _csv(config.get("select_tables"))
    if chosen:
        unknown = sorted(set(chosen) - set(tables))
        if unknown:
            raise WorkflowConfigError(f"select_tables: unknown table(s) {unknown}; available: {sorted(tables)}")
        tables = {t: tables[t] for t in chosen}
    only_ds = _csv(config.get("select_datasets"))
    out = {}
    for name, table in tables.items():
        parts = table if isinstance(table, list) else [table or {}]
        for i, t in enumerate(parts):
            g = {}
            for key in ("splits", "backbones", "methods", "streams", "ensembles"):
                vals = t.get(key, full[key])
                unknown = sorted(set(vals) - set(full[key]))
                if unknown:
                    raise WorkflowConfigError(f"tables.{name}.{key}: {unknown} not defined at the top level "
                                              "of the config")
                g[key] = list(vals)
            # a table may run its own seeds (e.g. three seeds for the methods it compares)
            g["seeds"] = [int(x) for x in t["seeds"]] if t.get("seeds") else None
            if only_ds:
                g["splits"] = [s for s in g["splits"] if sp[s].dataset in only_ds]
            out[name if len(parts) == 1 else f"{name}[{i}]"] = g
    return out


def runs(config: Dict[str, Any]) -> List[Run]:
    """Every training the config needs: the result rows, except that a swept row (``wb`` on a split
    with a validation split) is replaced by its candidates (:func:`result_runs` keeps the rows)."""
    out: Dict[str, Run] = {}
    for r in result_runs(config):
        cands = sweep_candidates(config, r.split, r.method)
        for c in cands:
            rc = Run(r.split, r.backbone, c, r.stream, r.seed)
            out.setdefault(rc.rel, rc)
        if not cands:
            out.setdefault(r.rel, r)
    return list(out.values())


def result_runs(config: Dict[str, Any]) -> List[Run]:
    """The runs users read (one folder per split/backbone/method/stream/seed row of the tables)."""
    sp, ms = splits(config), methods(config)
    seen: Dict[str, Run] = {}
    for g in table_grids(config).values():
        mids = set(g["methods"])
        for mid in list(mids):                       # stage-1 runs come along with stage-2 methods
            if ms[mid].stage1:
                mids.add(ms[mid].stage1)
        for s in g["splits"]:
            for b in g["backbones"]:
                for mid in sorted(mids):
                    streams = set(g["streams"])
                    for e in g["ensembles"]:
                        streams |= set(ensembles(config)[e])
                    for st in sorted(streams, key=STREAMS.index):
                        for seed in g["seeds"] or method_seeds(config, ms[mid]):
                            r = Run(sp[s], b, ms[mid], st, int(seed))
                            seen.setdefault(r.rel, r)
    return list(seen.values())


#: backbones the channel packer knows (benchmark.models.packing); others pack through vmap
CHANNEL_PACKED_BACKBONES = ("stgcnpp",)
#: ``pack_seeds: auto`` packs up to this base width: there packing 3 seeds measured faster than 3
#: separate runs on a 2-core CPU (python -m benchmark.bench --packed 3; README, "Speed")
PACK_AUTO_MAX_WIDTH = 16


def pack_groups(config: Dict[str, Any], planned: Optional[Sequence["Run"]] = None) -> Dict[str, Tuple[int, ...]]:
    """Runs trained together as one packed job: ``split/backbone/method/stream`` → its seeds.

    ``pack_seeds`` (default ``auto``): ``false`` never packs; ``true`` packs every group of two or
    more seeds; ``auto`` packs only where it measured faster (ST-GCN++ up to base width
    :data:`PACK_AUTO_MAX_WIDTH`). Stage-2 methods are trained separately (they start from their own
    stage-1 model and may change the model after each step). ``planned``: :func:`runs` of the
    config when the caller has them already (the workflow does)."""
    mode = config.get("pack_seeds", "auto")
    if mode is False or str(mode).lower() == "false":
        return {}
    bbs = backbones(config)
    groups: Dict[str, List[int]] = {}
    for r in (runs(config) if planned is None else planned):
        if r.method.stage1:
            continue
        groups.setdefault(f"{r.split.split_id}/{r.backbone}/{r.method.id}/{r.stream}", []).append(r.seed)
    out = {}
    for key, seeds in groups.items():
        backbone = key.split("/")[1]
        width = int(bbs[backbone].get("base_channels", 64))
        if len(set(seeds)) < 2:
            continue
        if mode == "auto" and not (backbone in CHANNEL_PACKED_BACKBONES and width <= PACK_AUTO_MAX_WIDTH):
            continue
        out[key] = tuple(sorted(set(seeds)))
    return out


def pack_name(seeds: Sequence[int]) -> str:
    """The pack folder's name: ``seeds0-1-2``."""
    return "seeds" + "-".join(str(s) for s in seeds)


def method_seeds(config: Dict[str, Any], m: MethodDef) -> List[int]:
    return [int(x) for x in (m.seeds or config["seeds"])]


def ensemble_targets(config: Dict[str, Any]) -> List[str]:
    sp, ms = splits(config), methods(config)
    root = runs_dir(config)
    out: Dict[str, None] = {}
    for g in table_grids(config).values():
        for s in g["splits"]:
            for b in g["backbones"]:
                for mid in g["methods"]:
                    for e in g["ensembles"]:
                        for seed in g["seeds"] or method_seeds(config, ms[mid]):
                            out[f"{root}/{sp[s].split_id}/{b}/{mid}/ens-{e}/seed{seed}/metrics.json"] = None
    return list(out)


def run_spec(config: Dict[str, Any], split_id: str, backbone: str, method_id: str, stream: str, seed: int,
             use_gpu: Optional[bool] = None) -> str:
    """The result-relevant run configuration as canonical JSON (passed to the trainer as a param;
    no paths, threads or devices, so it only changes when the result would).

    ``precision: auto`` is resolved here, for the device the run will get (``use_gpu``; None: an
    NVIDIA GPU is visible on this host), so the spec and every identity built from it name the
    arithmetic actually used: a bf16 result is never taken for an fp32 one, and a workflow planned
    on a machine that resolves ``auto`` differently retrains instead of reusing."""
    s = splits(config)[split_id]
    m = methods(config, candidates=True)[method_id]
    d = config["datasets"][s.dataset]
    # official_code entries run the dataset's released recipe (benchmark/recipes.py)
    r = recipes.resolve(m.fidelity, d, m.name, config["schedule"], config.get("augment", {}) or {},
                        m.schedule, m.augment, m.options, dataset_id=s.dataset)
    schedule = dict(r["schedule"])
    if schedule.get("precision") == "auto":
        schedule["precision"] = hostinfo.plan_precision("auto", _uses_gpu(use_gpu))
    spec = {
        "dataset": s.dataset, "benchmark": s.benchmark, "split_id": split_id, "backbone": backbone,
        "method": m.name, "method_id": m.id, "stream": stream, "seed": int(seed), "fidelity": m.fidelity,
        "method_options": r["method_options"], "backbone_options": backbones(config)[backbone],
        "schedule": schedule, "augment": r["augment"],
        "lt_profile": {"n_max": s.n_max, "ratio": s.ratio},
        "versions": {"method": m.version, "backbone": versions.backbone_version(backbone),
                     "data": versions.DATA_VERSION, "engine": versions.ENGINE_VERSION,
                     "normalize": d.get("normalize", "prenorm3d")},
    }
    if r["recipe"]:
        spec.update(recipe=r["recipe"], pipeline=r["pipeline"])
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def _uses_gpu(use_gpu: Optional[bool]) -> bool:
    return bool(hostinfo.gpu_compute_capabilities()) if use_gpu is None else bool(use_gpu)


def final_targets(config: Dict[str, Any]) -> List[str]:
    """Every metrics.json this config declares (trainings and ensembles), under its experiment."""
    root = runs_dir(config)
    return [f"{root}/{r.rel}/metrics.json" for r in result_runs(config)] + ensemble_targets(config)
