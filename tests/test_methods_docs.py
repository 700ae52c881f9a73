"""The worked example of docs/adding_a_method.md runs as written (and is removed again afterwards)."""
from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import methods
from methods._base import MethodContext, Targets

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding_a_method.md"


@pytest.fixture()
def ls_ce_module():
    text = DOC.read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if 'NAME = "ls_ce"' in b)
    methods.discover()
    mod = types.ModuleType("methods.ls_ce")
    sys.modules[mod.__name__] = mod
    try:
        exec(compile(code, str(DOC), "exec"), mod.__dict__)
        yield mod
    finally:
        methods._REGISTRY.pop("ls_ce", None)
        sys.modules.pop(mod.__name__, None)


def test_doc_example_registers_and_computes(ls_ce_module):
    cls = methods.get_method("ls_ce")
    ctx = MethodContext(num_classes=3, class_counts=np.array([5, 3, 2]), layout=None, iters_per_epoch=2,
                        runner_epochs=1, repeat=1, batch_size=1, seed=0)
    m = cls(ctx)
    z = torch.tensor([[2.0, 1.0, 0.5]], dtype=torch.float64)
    loss = float(m.loss(z, Targets.plain(torch.tensor([0])), 0))
    # 0.9·CE(z, 0) + 0.1·mean_c CE(z, c) = 0.9·0.4644 + 0.1·1.2977
    assert loss == pytest.approx(0.5477, abs=5e-5)
    with pytest.raises(ValueError):
        cls(ctx, epsilon=1.5)
