"""Channel packing: P models of one architecture run as ONE wider model with block-diagonal weights.

Why: at small widths a CPU spends its time in convolutions over 8–32 channels, which vectorise
poorly, and a grouped convolution (what ``torch.func.vmap`` turns P stacked convolutions into) is
no faster than P separate ones. A *dense* convolution over P·C channels is: measured on the 2-core
development CPU, one ST-GCN++ step at 3× the demo's width takes 0.46 s in bf16 where three steps at
the demo's width take 0.73 s. So P runs are packed side by side along the channel axis: every
convolution and linear layer becomes one dense layer whose weight is block-diagonal (block p holds
run p's weight, every other entry is exactly 0), every BatchNorm becomes one BatchNorm over P·C
channels (per-channel statistics are per-run statistics), and the learnable adjacency of the
graph unit is stacked (P, K, V, V).

Why the result equals P separate models: an output channel of run p only sums over input channels
of run p (the other weights are 0, and 0·x adds nothing), and the off-block weights stay exactly 0
during training because their gradient is masked to 0 before the optimiser sees it (with SGD's
weight decay and momentum a zero weight with zero gradient stays zero). Floating-point results
differ from separate runs only by summation order (tests/test_packing.py: 1e-10 in float64).
Each run still gets its own batch: run p's clips enter on run p's input channels.

Only module types listed in :class:`ChannelPacker` are packed (ST-GCN++ with a linear head);
anything else raises :class:`UnsupportedPacking`, and callers fall back to vmap packing
(``benchmark.engine.packed``) or to separate runs. Channel order inside the packed model is tracked
per tensor as a :class:`Layout` (which run and which of its channels each packed channel holds),
so branches concatenated along channels need no reordering copies.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn

from benchmark.models.blocks import DataBN, MSTCNPlusPlus, Residual, UnitTCN


class UnsupportedPacking(TypeError):
    """The model holds a module the channel packer does not know."""


@dataclass(frozen=True)
class Layout:
    """Channel bookkeeping of one packed tensor: packed channel j holds channel ``local[j]`` of run ``owner[j]``."""
    owner: torch.Tensor
    local: torch.Tensor

    @staticmethod
    def run_major(num_runs: int, channels: int) -> "Layout":
        """Run 0's channels, then run 1's, … (the order chosen for every layer's output)."""
        return Layout(torch.arange(num_runs).repeat_interleave(channels), torch.arange(channels).repeat(num_runs))

    @staticmethod
    def concat(parts: Sequence["Layout"], widths: Sequence[int]) -> "Layout":
        """Layout of ``torch.cat(parts, dim=1)`` where part i has ``widths[i]`` channels per run."""
        offsets = [sum(widths[:i]) for i in range(len(widths))]
        return Layout(torch.cat([p.owner for p in parts]), torch.cat([p.local + o for p, o in zip(parts, offsets)]))

    def positions(self, run: int) -> torch.Tensor:
        """Packed positions of run ``run``'s channels 0, 1, … in order."""
        mine = torch.nonzero(self.owner == run).flatten()
        return mine[torch.argsort(self.local[mine])]

    def __eq__(self, other) -> bool:
        return (isinstance(other, Layout) and torch.equal(self.owner, other.owner)
                and torch.equal(self.local, other.local))

    def __len__(self) -> int:
        return len(self.owner)


#: per packed tensor name: one index per run, with ``packed[index]`` equal to the run's tensor
Slots = Dict[str, List[tuple]]


class PackedUnitGCN(nn.Module):
    """ST-GCN++'s spatial unit for P runs: the 1×1 conv's output is ordered (subset, run, channel) so
    that the aggregation is one einsum with the stacked adjacency (P, K, V, V), or with
    ``graph_impl = "matmul"`` one matmul over joints followed by one (1, K) convolution, as
    :func:`benchmark.models.stgcnpp.fused_conv_aggregate` computes it for one run."""

    def __init__(self, unit, num_runs: int, conv: nn.Conv2d, adjacency: torch.Tensor, bn: nn.Module, down: nn.Module):
        super().__init__()
        self.num_runs, self.num_subsets, self.out_channels = num_runs, unit.num_subsets, unit.out_channels
        self.graph_impl = unit.graph_impl
        self.A = nn.Parameter(adjacency)
        self.conv, self.bn, self.down, self.act = conv, bn, down, nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        p, k, c = self.num_runs, self.num_subsets, self.out_channels
        res = self.down(x)
        if self.graph_impl == "matmul":
            # one (N·Cin·T, V) × (V, W·K) product per run, batched over runs (P large GEMMs; a
            # broadcast matmul over (N, P, Cin) would run N·P·Cin tiny ones)
            a = self.A.permute(0, 2, 3, 1).reshape(p, v, v * k).to(x.dtype)               # (P, V, W·K)
            xp = x.view(n, p, -1, t, v).transpose(0, 1).reshape(p, -1, v)                # (P, N·Cin·T, V)
            xa = torch.bmm(xp, a).view(p, n, -1, t, v * k).transpose(0, 1).reshape(n, -1, t, v * k)
            w = self.conv.weight.reshape(k, p * c, -1).permute(1, 2, 0).unsqueeze(2)     # (P·C, P·Cin, 1, K)
            y = torch.nn.functional.conv2d(xa, w.to(xa.dtype), stride=(1, k))
            if self.conv.bias is not None:
                b = torch.einsum("kpc,pkw->pcw", self.conv.bias.reshape(k, p, c), self.A.sum(2))
                y = y + b.reshape(p * c, 1, v).to(y.dtype)
        else:
            y = self.conv(x).view(n, k, p, c, t, v)
            y = torch.einsum("nkpctv,pkvw->npctw", y, self.A).reshape(n, p * c, t, v)
        return self.act(self.bn(y) + res)


class ChannelPacker:
    """Builds the packed copy of P same-architecture models and the index maps between them."""

    def __init__(self, models: Sequence[nn.Module]):
        self.models = list(models)
        self.P = len(self.models)
        self.slots: Slots = {}
        self.masks: Dict[str, torch.Tensor] = {}

    # ---------------------------------------------------------------- leaves
    def _dense(self, name: str, mods: Sequence[nn.Module], lay_in: Layout, out_layout: Layout = None):
        m0 = mods[0]
        if isinstance(m0, nn.Conv2d):
            if m0.groups != 1 or m0.padding_mode != "zeros":
                raise UnsupportedPacking(f"{name}: grouped or non-zero-padded convolution")
            c_out = m0.out_channels
            new = nn.Conv2d(len(lay_in), self.P * c_out, m0.kernel_size, stride=m0.stride, padding=m0.padding,
                            dilation=m0.dilation, bias=m0.bias is not None)
        else:
            c_out = m0.out_features
            new = nn.Linear(len(lay_in), self.P * c_out, bias=m0.bias is not None)
        lay_out = out_layout or Layout.run_major(self.P, c_out)
        with torch.no_grad():
            new.weight.zero_()
        new.to(device=m0.weight.device, dtype=m0.weight.dtype)
        self.slots[f"{name}.weight"] = [(lay_out.positions(p)[:, None], lay_in.positions(p)[None, :])
                                        for p in range(self.P)]
        if m0.bias is not None:
            self.slots[f"{name}.bias"] = [(lay_out.positions(p),) for p in range(self.P)]
        mask = (lay_out.owner[:, None] == lay_in.owner[None, :]).to(new.weight.dtype)
        self.masks[f"{name}.weight"] = mask.reshape(mask.shape + (1,) * (new.weight.dim() - 2)).to(m0.weight.device)
        return new, lay_out

    def _norm(self, name: str, mods: Sequence[nn.Module], lay: Layout, index_of=None):
        m0 = mods[0]
        cls = type(m0)
        if cls not in (nn.BatchNorm1d, nn.BatchNorm2d):
            raise UnsupportedPacking(f"{name}: {cls.__name__}")
        width = len(lay) if index_of is None else self.P * m0.num_features
        new = cls(width, eps=m0.eps, momentum=m0.momentum, affine=m0.affine,
                  track_running_stats=m0.track_running_stats).to(m0.running_mean.device if m0.running_mean is not None
                                                                  else "cpu")
        pos = [lay.positions(p) if index_of is None else index_of(p) for p in range(self.P)]
        for t in ("weight", "bias", "running_mean", "running_var"):
            if getattr(m0, t, None) is not None:
                self.slots[f"{name}.{t}"] = [(q,) for q in pos]
        if m0.track_running_stats:
            self.slots[f"{name}.num_batches_tracked"] = [() for _ in range(self.P)]
        return new

    # ---------------------------------------------------------------- structure
    def _chain(self, name: str, mods: Sequence[nn.Module], lay: Layout, attrs: Sequence[str],
               new: nn.Module = None) -> Tuple[nn.Module, Layout]:
        """A copy of ``mods[0]`` whose children ``attrs`` are packed in order, each fed the layout
        the previous one produced (how the sequential modules of the backbones run)."""
        if new is None:
            new = copy.copy(mods[0])
            new._modules = dict(mods[0]._modules)
        for attr in attrs:
            new._modules[attr], lay = self.pack(f"{name}.{attr}" if name else attr,
                                                [getattr(m, attr) for m in mods], lay)
        return new, lay

    def _list(self, name: str, lists: Sequence[Sequence[nn.Module]], lay: Layout, chained: bool):
        """Packed entries of a ModuleList/Sequential: chained (each fed the previous output) or all
        fed ``lay`` (parallel branches). Returns the modules and each one's output layout."""
        out, lays = [], []
        for i in range(len(lists[0])):
            mod, lo = self.pack(f"{name}.{i}" if name else str(i), [m[i] for m in lists], lay)
            out.append(mod)
            lays.append(lo)
            lay = lo if chained else lay
        return out, lays

    def pack(self, name: str, mods: Sequence[nn.Module], lay: Layout) -> Tuple[nn.Module, Layout]:
        """Packed copy of ``mods`` (one module per run) fed with a tensor of layout ``lay``."""
        from benchmark.models.recognizer import Recognizer
        from benchmark.models.stgcnpp import STGCNpp, STGCNppBlock, UnitGCN
        from methods._base import LinearHead

        m0 = mods[0]
        full = lambda attr: f"{name}.{attr}" if name else attr           # noqa: E731
        if isinstance(m0, (nn.Conv2d, nn.Linear)):
            return self._dense(name, mods, lay)
        if isinstance(m0, (nn.BatchNorm1d, nn.BatchNorm2d)):
            return self._norm(name, mods, lay), lay
        if isinstance(m0, (nn.ReLU, nn.Identity, nn.MaxPool2d)):
            return copy.deepcopy(m0), lay
        if isinstance(m0, nn.Dropout):
            if m0.p > 0:
                raise UnsupportedPacking(f"{name}: dropout draws cannot be reproduced per run")
            return nn.Identity(), lay
        if isinstance(m0, nn.Sequential):
            out, lays = self._list(name, mods, lay, chained=True)
            return nn.Sequential(*out), lays[-1] if lays else lay
        if isinstance(m0, UnitTCN):
            return self._chain(name, mods, lay, ("conv", "bn", "drop"))
        if isinstance(m0, Residual):
            return self._chain(name, mods, lay, ("proj",) if m0.mode == "project" else ())
        if isinstance(m0, MSTCNPlusPlus):
            new, _ = self._chain(name, mods, lay, ())
            branches, outs = self._list(full("branches"), [m.branches for m in mods], lay, chained=False)
            new._modules["branches"] = nn.ModuleList(branches)
            lay = Layout.concat(outs, [int(lb.local.max()) + 1 for lb in outs])
            return self._chain(name, mods, lay, ("transform", "bn", "drop"), new=new)
        if isinstance(m0, UnitGCN):
            return self._unit_gcn(name, mods, lay)
        if isinstance(m0, STGCNppBlock):
            new, lt = self._chain(name, mods, lay, ("gcn", "tcn"))
            new, lr = self._chain(name, mods, lay, ("residual",), new=new)
            if m0.residual.mode != "none" and lr != lt:
                raise UnsupportedPacking(f"{name}: residual and temporal outputs are ordered differently")
            return new, lt
        if isinstance(m0, DataBN):
            return self._data_bn(name, mods, lay)
        if isinstance(m0, STGCNpp):
            new, lay = self._chain(name, mods, lay, ("data_bn",))
            blocks, lays = self._list(full("blocks"), [m.blocks for m in mods], lay, chained=True)
            new._modules["blocks"] = nn.ModuleList(blocks)
            return new, lays[-1]
        if isinstance(m0, LinearHead):
            return self._chain(name, mods, lay, ("dropout", "fc"))
        if isinstance(m0, Recognizer):
            return self._chain(name, mods, lay, ("backbone", "head"))
        raise UnsupportedPacking(f"{name or 'model'}: channel packing does not know {type(m0).__name__}")

    def _unit_gcn(self, name: str, mods, lay: Layout):
        m0, P = mods[0], self.P
        k, c = m0.num_subsets, m0.out_channels
        if lay != Layout.run_major(P, m0.conv.in_channels):
            raise UnsupportedPacking(f"{name}: the graph unit needs its input ordered run by run")
        # conv output ordered (subset, run, channel): run p's channel k·C + c sits at k·P·C + p·C + c
        out = Layout(torch.arange(P).repeat_interleave(c).repeat(k),
                     (torch.arange(k)[:, None, None] * c + torch.arange(c)[None, None, :]).expand(k, P, c).reshape(-1))
        conv, _ = self._dense(f"{name}.conv", [m.conv for m in mods], lay, out_layout=out)
        a = torch.zeros((P,) + tuple(m0.A.shape), dtype=m0.A.dtype, device=m0.A.device)
        self.slots[f"{name}.A"] = [(p,) for p in range(P)]
        lay_out = Layout.run_major(P, c)
        bn = self._norm(f"{name}.bn", [m.bn for m in mods], lay_out)
        down, ld = self.pack(f"{name}.down", [m.down for m in mods], lay)
        if not isinstance(m0.down, nn.Identity) and ld != lay_out:
            raise UnsupportedPacking(f"{name}: down projection ordered differently")
        return PackedUnitGCN(m0, P, conv, a, bn, down), lay_out

    def _data_bn(self, name: str, mods, lay: Layout):
        m0, P = mods[0], self.P
        new, _ = self._chain(name, mods, lay, ())
        new.in_channels = P * m0.in_channels
        v, c = m0.num_joints, m0.in_channels
        persons = m0.num_person if m0.kind == "MVC" else 1

        def index_of(p: int) -> torch.Tensor:
            # flattened (person, joint, run, channel) → the run's (person, joint, channel)
            i = torch.arange(persons)[:, None, None] * (v * P * c) + torch.arange(v)[None, :, None] * (P * c) \
                + p * c + torch.arange(c)[None, None, :]
            return i.reshape(-1)
        new._modules["bn"] = self._norm(f"{name}.bn", [m.bn for m in mods], lay, index_of=index_of)
        return new, Layout.run_major(P, c)


class ChannelPackedModel(nn.Module):
    """P recognisers as one: ``forward`` maps stacked clips (P, N, M, T, V, C) to logits (P, N, classes).

    :meth:`load_from` / :meth:`store_into` copy weights and buffers between the P separate models
    and the packed one; :meth:`pack_momentum` / :meth:`unpack_momentum` do the same for SGD's
    momentum buffers, so a packed pass can continue from, and hand back to, separate optimisers."""

    def __init__(self, models: Sequence[nn.Module]):
        super().__init__()
        models = list(models)
        packer = ChannelPacker(models)
        in_ch = models[0].backbone.data_bn.in_channels
        self.net, self.out_layout = packer.pack("", models, Layout.run_major(len(models), in_ch))
        self.num_runs, self.slots, self.masks = len(models), packer.slots, packer.masks
        self._check_slots(models[0])
        self.load_from(models)
        for n, p in self.net.named_parameters():
            if n in self.masks:
                p.register_hook(lambda g, m=self.masks[n]: g * m)

    def _check_slots(self, model: nn.Module) -> None:
        mine = dict(self.net.named_parameters()) | dict(self.net.named_buffers())
        theirs = dict(model.named_parameters()) | dict(model.named_buffers())
        if set(mine) != set(theirs) or set(self.slots) != set(theirs):
            missing = sorted(set(theirs) ^ set(self.slots))
            raise UnsupportedPacking(f"channel packing does not map every tensor of the model: {missing[:5]}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p, n = x.shape[:2]
        x = x.movedim(0, -2).reshape(x.shape[1:-1] + (p * x.shape[-1],))    # (N, M, T, V, P·C), run-major channels
        return self.net(x).view(n, p, -1).transpose(0, 1)

    def _tensors(self, model: nn.Module) -> Dict[str, torch.Tensor]:
        return dict(model.named_parameters()) | dict(model.named_buffers())

    @torch.no_grad()
    def load_from(self, models: Sequence[nn.Module]) -> None:
        mine = self._tensors(self.net)
        for name, t in mine.items():
            if name in self.masks or name.endswith(".A"):
                t.zero_()
            for p, m in enumerate(models):
                t[self.slots[name][p]] = self._tensors(m)[name].to(t.dtype)

    @torch.no_grad()
    def store_into(self, models: Sequence[nn.Module]) -> List[nn.Module]:
        mine = self._tensors(self.net)
        for p, m in enumerate(models):
            for name, t in self._tensors(m).items():
                t.copy_(mine[name][self.slots[name][p]])
        return list(models)

    def named_packed_parameters(self):
        """(name, packed tensor) of every trainable tensor; ``slots[name][p]`` indexes run p's part."""
        return self.net.named_parameters()

    def store_models(self, models: Sequence[nn.Module]) -> List[nn.Module]:
        return self.store_into(models)


@torch.no_grad()
def pack_momentum(packed, packed_opt: torch.optim.Optimizer, opts: Sequence[torch.optim.Optimizer],
                  models: Sequence[nn.Module]) -> None:
    """SGD momentum buffers of the separate optimisers → the packed optimiser (absent stays absent).
    ``packed``: anything with ``named_packed_parameters()`` and ``slots`` (channel or vmap packing)."""
    params = [dict(m.named_parameters()) for m in models]
    for name, t in packed.named_packed_parameters():
        bufs = [o.state.get(params[p][name], {}).get("momentum_buffer") for p, o in enumerate(opts)]
        if all(b is None for b in bufs):
            continue
        buf = torch.zeros_like(t)
        for p, b in enumerate(bufs):
            if b is not None:
                buf[packed.slots[name][p]] = b
        packed_opt.state[t]["momentum_buffer"] = buf


@torch.no_grad()
def unpack_momentum(packed, packed_opt: torch.optim.Optimizer, opts: Sequence[torch.optim.Optimizer],
                    models: Sequence[nn.Module]) -> None:
    """The packed optimiser's momentum buffers → each run's own optimiser (for its checkpoint)."""
    params = [dict(m.named_parameters()) for m in models]
    for name, t in packed.named_packed_parameters():
        buf = packed_opt.state.get(t, {}).get("momentum_buffer")
        if buf is None:
            continue
        for p, o in enumerate(opts):
            o.state[params[p][name]]["momentum_buffer"] = buf[packed.slots[name][p]].clone()
