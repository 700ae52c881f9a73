"""The record of a finished run (metrics.json): what it scored, and everything needed to know
where the score came from (spec, identity, data, hardware, speed options, selection, tuning).

:func:`run_record` builds it from a finished ``RunTrainer`` and the results of its last steps; the
trainer writes it (``RunTrainer.finish``). The fields are documented in docs/evaluation.md."""
from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Dict, Optional

import torch

from benchmark.engine.config import fidelity_flags
from benchmark.engine.selection import label as selection_label
from benchmark.versions import ENGINE_VERSION

#: meta.monitor: what the epoch log's test columns are (and are not)
MONITOR_NOTE = ("1-clip pass on the test split after each runner epoch (epochs.csv test_*_monitor): a curve only; "
                f"only best_test (official_code mode, labelled '{selection_label('best_test')}') selects on it")


def hardware_info(device: torch.device) -> Dict[str, str]:
    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpu_count": str(os.cpu_count()), "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def code_version() -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    import benchmark
    return f"v{benchmark.__version__}"


def execution_info(device: torch.device, precision: str, requested: str, packed: Optional[int] = None) -> Dict:
    """How the arithmetic ran (not part of the identity, but it changes rounding): resolved and
    requested precision, intra-op threads, device and CPU model, and the pack width (None = the run
    trained alone). Recorded in metrics.json as ``meta.execution``."""
    from benchmark.hostinfo import cpu_model

    info = {"precision": precision, "precision_requested": requested, "threads": torch.get_num_threads(),
            "device": str(device), "cpu_model": cpu_model(), "packed": packed}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def stage1_selection(tr) -> Optional[Dict]:
    """meta.stage1_selection: a swept stage-1 hyper-parameter (WB's weight decay), this run's value
    and why, or its stage 1's record; None when nothing was swept."""
    from benchmark.engine.sweep import run_record as sweep_record

    spec = tr.spec
    return sweep_record(spec.method, spec.method_options, tr.val is not None,
                        Path(tr.stage1).parent if tr.stage1 else None)


def run_record(tr, metrics: Dict, selections: Dict, tuning: Optional[Dict], test_seconds: float,
               extra_meta: Optional[Dict] = None) -> Dict:
    """The metrics.json record of trainer ``tr`` (a ``RunTrainer`` after its last epoch)."""
    spec, ctx, sch, speed, dev = tr.spec, tr.ctx, tr.sch, tr.speed, tr.dev
    test, val, train_seconds = tr.test, tr.val, tr.train_seconds
    n_train_clips = ctx.runner_epochs * ctx.iters_per_epoch * sch.batch_size
    record = {
        "run": {"dataset": spec.dataset, "benchmark": spec.benchmark, "split": spec.split_id,
                "backbone": spec.backbone, "method": spec.method_id, "method_name": spec.method,
                "stream": spec.stream, "seed": spec.seed, "fidelity": spec.fidelity, "selection": "last"},
        "metrics": metrics,
        "selections": selections,
        "meta": {"wall_time_s": round(time.time() - tr.t_start, 2), "train_seconds": round(train_seconds, 2),
                 "test_seconds": round(test_seconds, 2), "hardware": hardware_info(dev), "device": str(dev),
                 "code_version": code_version(), "config_hash": spec.config_hash, "spec": spec.to_dict(),
                 "run_id": tr.run_id,
                 "identity": tr.identity.record(),
                 "execution": execution_info(dev, speed.precision, tr.requested_precision,
                                             packed=((extra_meta or {}).get("packed") or {}).get("size")),
                 "schedule": spec.to_dict()["schedule"], "augment": spec.to_dict()["augment"],
                 "backbone_options": dict(spec.backbone_options),
                 "method_meta": tr.method.metadata(), "engine_version": ENGINE_VERSION,
                 "precision": speed.precision, "compile": speed.compile,
                 "deterministic": spec.schedule.deterministic,
                 "speed": {"precision": speed.precision, "compile": speed.compile,
                           "channels_last": speed.channels_last, "graph_impl": speed.graph_impl},
                 "iters_per_epoch": ctx.iters_per_epoch, "runner_epochs": ctx.runner_epochs,
                 "train_size": int(len(tr.train)), "test_size": int(len(test)),
                 "train_samples_per_s": round(n_train_clips / train_seconds, 2) if train_seconds > 0 else None,
                 "test_samples_per_s": round(len(test) / test_seconds, 2) if test_seconds > 0 else None,
                 "monitor": MONITOR_NOTE,
                 "selection_rules": tr.rules, "validation": {"size": 0 if val is None else len(val),
                                                             "note": tr.val_reason},
                 "recipe": spec.recipe, "pipeline": dict(spec.pipeline),
                 "fidelity_flags": fidelity_flags(spec, tr.method, rules=tr.rules),
                 "posthoc_tuning": tuning, **(extra_meta or {})},
    }
    s1_sel = stage1_selection(tr)
    if s1_sel is not None:
        record["meta"]["stage1_selection"] = s1_sel
    return record
