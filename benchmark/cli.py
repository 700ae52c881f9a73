"""Command-line entry points: ``python -m benchmark <command>``.

Every workflow rule calls one of these (thin rules, all logic in the package):

    methods   list registered methods (name, version, paper, description)
    models    list registered backbones
    prepare   raw dataset → canonical format (reader + per-layout normalisation)
    split     canonical table → long-tailed training list + per-class counts table
    train     train and test one run (resumes from its checkpoint)
    train-many  train several runs one after the other in one process (benchmark.train_jobs)

ensemble / aggregate / report / bench / gpu_slot have their own modules
(``python -m benchmark.ensemble`` …).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional


def methods_markdown() -> str:
    """The generated part of docs/methods.md (see benchmark.docs_methods)."""
    from benchmark.docs_methods import methods_markdown as generate

    return generate()


def cmd_methods(args: argparse.Namespace) -> int:
    import methods

    if args.markdown:
        sys.stdout.write(methods_markdown())
        return 0
    if args.update_docs:
        from benchmark.docs_methods import DOC, update_docs

        print(f"{DOC}: {'updated' if update_docs() else 'already current'}")
        return 0
    index = methods.method_index()
    rows = [(n, i.get("version", ""), i.get("paper", ""), i.get("description", "")) for n, i in sorted(index.items())]
    vw = max(len(r[1]) for r in rows)
    if args.json:
        print(json.dumps(index, indent=2, sort_keys=True))
        return 0
    w = max(len(r[0]) for r in rows)
    print(f"{'method':<{w}}  {'version (own;module=version of what it builds on)':<{vw}}  description  [paper]")
    for name, ver, paper, desc in rows:
        print(f"{name:<{w}}  {ver:<{vw}}  {desc}  [{paper}]")
    print(f"\n{len(rows)} methods. Add one: drop a file into methods/ (see docs/adding_a_method.md).")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from benchmark.models import available_models, get_backbone_factory

    for name in available_models():
        f = get_backbone_factory(name)
        print(f"{name:<10} out_channels={f.out_channels:<4} graph={f.graph_mode:<12} version={f.version}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from benchmark.data.prepare import prepare_dataset

    try:
        options = json.loads(args.options) if args.options else {}
    except json.JSONDecodeError as e:
        raise ValueError(f"--options: not valid JSON ({e}); give the reader options as a JSON object") from None
    if not isinstance(options, dict):
        raise ValueError(f"--options: expected a JSON object of reader options, got {type(options).__name__}")
    prepare_dataset(dataset_id=args.dataset, source=args.source, root=Path(args.root) if args.root else None,
                    out_dir=Path(args.out), normalize=args.normalize, options=options,
                    max_persons=args.max_persons)
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    from benchmark.data.prepare import build_split

    build_split(data_dir=Path(args.data), benchmark=args.benchmark, n_max=args.n_max, ratio=args.ratio,
                split_list=Path(args.split_list) if args.split_list else None, out=Path(args.out),
                counts_out=Path(args.counts), seed=args.seed,
                thresholds=json.loads(args.thresholds) if args.thresholds else None)
    return 0


def _read_spec(text: str):
    """A run spec given as JSON on the command line, or as ``@file``."""
    from benchmark.engine.config import RunSpec

    return RunSpec.from_json(Path(text[1:]).read_text() if text.startswith("@") else text)


def _set_threads(threads: Optional[int]) -> None:
    """torch's intra-op threads from ``--threads`` (None: torch's default), and one line that shows
    which thread count reached the trainer (a cluster profile's set-threads passes through
    Snakemake, sbatch and the job step before it gets here)."""
    import torch

    if threads is not None and threads < 1:
        raise ValueError(f"--threads {threads}: must be at least 1")
    if threads:
        torch.set_num_threads(threads)
    print(f"[train] threads: --threads {threads}, torch intra-op threads {torch.get_num_threads()}", file=sys.stderr)


def _print_result(spec, rec: dict) -> None:
    m = rec["metrics"]
    print(f"[train] {spec.split_id} {spec.backbone} {spec.method_id} {spec.stream} seed{spec.seed}: "
          f"top1 {m['top1']:.4f} balanced {m['balanced_acc']:.4f}", file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> int:
    from benchmark.engine.train import train_run

    spec = _read_spec(args.spec)
    _set_threads(args.threads)
    rec = train_run(spec, data_dir=Path(args.data), split_file=Path(args.split) if args.split else None,
                    out_dir=Path(args.out), ckpt_dir=Path(args.ckpt), stage1=Path(args.stage1) if args.stage1 else None,
                    device=args.device, progress=not args.no_progress,
                    stop_after_epochs=args.stop_after_epochs, keep_checkpoint=args.keep_checkpoint)
    if "metrics" in rec:
        _print_result(spec, rec)
    return 0


def cmd_train_pack(args: argparse.Namespace) -> int:
    from benchmark.engine.packed import train_group

    specs = [_read_spec(s) for s, _, _ in args.run]
    _set_threads(args.threads)
    recs = train_group(specs, Path(args.data), Path(args.split) if args.split else None,
                       [Path(o) for _, o, _ in args.run], [Path(c) for _, _, c in args.run], device=args.device,
                       progress=not args.no_progress, keep_checkpoint=args.keep_checkpoint)
    for spec, rec in zip(specs, recs):
        _print_result(spec, rec)
    return 0


def cmd_train_many(args: argparse.Namespace) -> int:
    import torch

    from benchmark.engine.config import RunSpec
    from benchmark.train_jobs import train_many

    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads {args.threads}: must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"[train] threads: --threads {args.threads}, torch intra-op threads {torch.get_num_threads()}",
          file=sys.stderr)
    runs = [(RunSpec.from_json(Path(s[1:]).read_text() if s.startswith("@") else s), Path(o), Path(c))
            for s, o, c in args.run]
    packed = [[int(i) for i in p.split(",")] for p in args.pack]
    flat = [i for p in packed for i in p]
    if any(not 0 <= i < len(runs) for i in flat) or len(set(flat)) != len(flat):
        raise ValueError(f"--pack {args.pack}: each index must name one of the {len(runs)} --run entries "
                         "(0-based), at most once")
    first = {p[0]: p for p in packed}
    items = [[runs[i] for i in first[k]] if k in first else [runs[k]]
             for k in range(len(runs)) if k in first or k not in flat]
    from benchmark.train_jobs import item_key

    keys = [item_key([str(c) for _, _, c in item]) for item in items]    # the same in every job
    recs = train_many(items, Path(args.data), Path(args.split) if args.split else None, device=args.device,
                      progress=not args.no_progress, claims=Path(args.claims) if args.claims else None, keys=keys)
    for rec in recs:
        r, m = rec["run"], rec["metrics"]
        print(f"[train] {r['split']} {r['backbone']} {r['method']} {r['stream']} seed{r['seed']}: "
              f"top1 {m['top1']:.4f} balanced {m['balanced_acc']:.4f}", file=sys.stderr)
    return 0


def cmd_take_pack(args: argparse.Namespace) -> int:
    from benchmark.engine.packed import take_packed_result

    spec = _read_spec(args.spec)
    take_packed_result(spec, Path(args.data), Path(args.split) if args.split else None,
                       Path(args.stage1) if args.stage1 else None, Path(getattr(args, "from")), Path(args.out))
    return 0


def cmd_take_job_run(args: argparse.Namespace) -> int:
    from benchmark.train_jobs import take_result

    src = take_result(_read_spec(args.spec).to_json(), getattr(args, "from"), args.out)
    print(f"[train] result taken from the multi-run job ({src})", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmark", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("methods", help="list registered methods")
    s.add_argument("--json", action="store_true")
    s.add_argument("--markdown", action="store_true", help="the generated part of docs/methods.md")
    s.add_argument("--update-docs", action="store_true", help="rewrite the generated part of docs/methods.md")
    s.set_defaults(fn=cmd_methods)

    s = sub.add_parser("models", help="list registered backbones")
    s.set_defaults(fn=cmd_models)

    s = sub.add_parser("prepare", help="raw dataset -> canonical format")
    s.add_argument("--dataset", required=True)
    s.add_argument("--source", required=True, help="reader name (synthetic, nw_ucla_json, pyskl_pickle, ...)")
    s.add_argument("--root", help="raw data folder or file")
    s.add_argument("--normalize", default="prenorm3d")
    s.add_argument("--options", help="reader options as JSON")
    s.add_argument("--max-persons", type=int, help="person slots of the prepared array (default: 2, as NTU)")
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_prepare)

    s = sub.add_parser("split", help="build the long-tailed training list")
    s.add_argument("--data", required=True)
    s.add_argument("--benchmark", required=True)
    s.add_argument("--n-max", type=int)
    s.add_argument("--ratio", help="imbalance ratio, or 'natural' to keep the training split as it is")
    s.add_argument("--split-list", help="an official list to use as is (e.g. NTU60_xsub_exp_100.txt)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--thresholds", help='Many/Few thresholds as JSON, e.g. {"many": 0.5, "few": 0.1, "relative": true}')
    s.add_argument("--out", required=True)
    s.add_argument("--counts", required=True)
    s.set_defaults(fn=cmd_split)

    s = sub.add_parser("train", help="train and test one run")
    s.add_argument("--spec", required=True, help="run spec as JSON (or @file)")
    s.add_argument("--data", required=True)
    s.add_argument("--split", help="training list (default: the whole training split)")
    s.add_argument("--out", required=True)
    s.add_argument("--ckpt", required=True, help="folder for the resumable checkpoint (not a workflow output)")
    s.add_argument("--stage1", help="final model.pt of the stage-1 run (two-stage / post-hoc methods)")
    s.add_argument("--device")
    s.add_argument("--threads", type=int)
    s.add_argument("--no-progress", action="store_true")
    s.add_argument("--stop-after-epochs", type=int, help=argparse.SUPPRESS)
    s.add_argument("--keep-checkpoint", action="store_true",
                   help="keep the resumable last.pt after the run finished (default: remove it)")
    s.set_defaults(fn=cmd_train)

    s = sub.add_parser("train-pack", help="train runs that differ only in the seed together, as one packed model")
    s.add_argument("--data", required=True)
    s.add_argument("--split", help="training list (default: the whole training split)")
    s.add_argument("--run", nargs=3, action="append", required=True, metavar=("SPEC", "OUT", "CKPT"),
                   help="one run: spec (JSON or @file), output folder, checkpoint folder; repeat per seed")
    s.add_argument("--device")
    s.add_argument("--threads", type=int)
    s.add_argument("--no-progress", action="store_true")
    s.add_argument("--keep-checkpoint", action="store_true")
    s.set_defaults(fn=cmd_train_pack)

    s = sub.add_parser("train-many", help="train several runs of one split one after the other in one process "
                       "(one import of torch and the engine; the workflow's train_jobs)")
    s.add_argument("--data", required=True)
    s.add_argument("--split", help="training list (default: the whole training split)")
    s.add_argument("--run", nargs=3, action="append", required=True, metavar=("SPEC", "OUT", "CKPT"),
                   help="one run: spec (JSON or @file), output folder, checkpoint folder; repeat per run")
    s.add_argument("--pack", action="append", default=[], metavar="I,J,...",
                   help="0-based indices of --run entries that differ only in the seed, trained as one packed model")
    s.add_argument("--claims", help="a folder shared by jobs that run the same list: each trains only the items it "
                   "claims there first (the workflow's train_jobs)")
    s.add_argument("--device")
    s.add_argument("--threads", type=int)
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(fn=cmd_train_many)

    s = sub.add_parser("take-pack", help="copy one run's result from the folder a packed job (train-pack) wrote "
                       "it to, after checking that it has this run's identity")
    s.add_argument("--spec", required=True, help="run spec as JSON (or @file)")
    s.add_argument("--data", required=True)
    s.add_argument("--split", help="training list (default: the whole training split)")
    s.add_argument("--stage1", help="final model.pt of the stage-1 run, if the run has one")
    s.add_argument("--from", required=True, help="the packed job's folder for this run")
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_take_pack)

    s = sub.add_parser("take-job-run", help="copy one run's result from the multi-run job (train-many) that "
                       "trained it, after checking that it was trained from this run's spec")
    s.add_argument("--spec", required=True, help="run spec as JSON (or @file)")
    s.add_argument("--from", required=True, nargs="+", help="the run's folder in each job of its group")
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_take_job_run)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except (ValueError, KeyError, OSError, EOFError) as e:
        # Bad input or a file problem: one clear line, no traceback (LTBENCH_DEBUG=1 shows it).
        import os
        if os.environ.get("LTBENCH_DEBUG"):
            raise
        print(f"error: {describe_error(e)}", file=sys.stderr)
        return 2


def describe_error(e: BaseException) -> str:
    """One line for an expected failure: the file and what to do about it."""
    if isinstance(e, PermissionError):
        return (f"{e.filename or e}: permission denied ({e.strerror or 'no access'}); make the folder writable "
                "or choose another output location")
    if isinstance(e, IsADirectoryError):
        return f"{e.filename}: is a folder, a file was expected"
    if isinstance(e, FileNotFoundError) and e.filename:
        return f"{e.filename}: no such file or folder; check the path"
    if isinstance(e, OSError) and e.filename:
        return f"{e.filename}: {e.strerror or e}"
    if isinstance(e, KeyError):
        if type(e) is KeyError and e.args and isinstance(e.args[0], (str, int)) and " " not in str(e.args[0]):
            # a bare lookup (raw["model"]) that no check caught: name the key at least
            return (f"missing key {e.args[0]!r} in a file or spec this step reads (one written by another "
                    "version, or edited); rerun the step that wrote it (LTBENCH_DEBUG=1 shows where)")
        return str(e.args[0]) if e.args else repr(e)
    return str(e)
