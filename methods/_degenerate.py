"""When a method reduces to another one on a given class profile, say so.

Some methods only act on part of the class distribution. On a profile where that part is empty
they compute exactly what a simpler method computes, and identical numbers in a report then look
like a bug. Example: softmax EQL drops non-target logits of classes with frequency n_c/N < λ
(λ = 0.005); the demo profile (10 classes, 403 clips, smallest class 10/403 = 0.025) has none, so
EQL *is* CE there, bit for bit.

:func:`degeneracy` works from a run record's method metadata (``meta.method_meta`` of
metrics.json: options and resolved values), so the report can call :func:`note_for_record` on any
record without re-running anything. Pure python: no torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence


@dataclass(frozen=True)
class Degeneracy:
    method: str
    equals: str          # the method it reduces to
    reason: str

    @property
    def note(self) -> str:
        return f"{self.method} is identical to {self.equals} here: {self.reason}"


#: methods whose only effect is a per-class re-weighting/offset from the class counts; with equal
#: counts every class gets the same weight/offset and they reduce to plain CE
_COUNT_ONLY = ("balanced_softmax", "la", "weighted_softmax", "cb", "la_posthoc")


def degeneracy(method: str, options: Dict[str, Any], counts: Optional[Sequence[int]] = None,
               resolved: Optional[Dict[str, Any]] = None) -> Optional[Degeneracy]:
    """The method this one reduces to on this profile, or None.

    ``method``: the registered name; ``options``: the run's method options; ``counts``: the class
    counts the method used (``resolved['counts']`` is preferred when present)."""
    resolved = resolved or {}
    counts = resolved.get("counts", counts)
    if method == "eql" and options.get("variant", "seql") == "seql":
        drop = resolved.get("droppable_classes")
        lam = resolved.get("lambda", options.get("freq_threshold"))
        if drop is None and counts is not None and lam is not None:
            total = float(sum(counts))
            drop = [c for c, n in enumerate(counts) if n / total < float(lam)]
        if drop is not None and len(drop) == 0:
            smallest = ""
            if counts:
                smallest = f" (the rarest class has frequency {min(counts) / float(sum(counts)):.4g})"
            return Degeneracy("eql", "ce", f"no class has a training frequency below λ = {lam:g}{smallest}, "
                                           "so no logit is ever dropped")
        if options.get("gamma") == 0:
            return Degeneracy("eql", "ce", "the drop probability γ is 0")
    if method == "focal" and float(options.get("gamma", 2.0)) == 0.0:
        return Degeneracy("focal", "ce", "γ = 0 removes the focal factor")
    if method in ("la", "la_posthoc") and float(options.get("tau", 1.0)) == 0.0:
        return Degeneracy(method, "ce", "τ = 0 removes the logit offset")
    if method in _COUNT_ONLY and counts is not None and len(set(int(n) for n in counts)) == 1:
        return Degeneracy(method, "ce", "every class has the same training count, so every class gets the "
                                        "same weight or offset")
    if method.startswith(("brl", "stae_")) and resolved.get("rpm_mixed_per_batch") == 0:
        return Degeneracy(method, method + " without RPM", "⌊ρ·B⌋ = 0: the batch is too small for any sample "
                                                           "to be mixed")
    return None


def note_for_record(record: Dict[str, Any]) -> Optional[str]:
    """A one-line note for a run record (metrics.json as a dict), or None.

    Usage in a report: ``note = note_for_record(json.loads(Path(run_dir, "metrics.json").read_text()))``."""
    run = record.get("run", {})
    md = record.get("meta", {}).get("method_meta", {}) or {}
    name = run.get("method_name") or md.get("method") or run.get("method", "")
    d = degeneracy(name, md.get("options", {}) or {}, None, md.get("resolved"))
    return None if d is None else d.note
