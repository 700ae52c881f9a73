"""GPU slot allocator: lease n GPUs with node-local file locks, then exec the command.

Usage (every GPU rule, docs/workflow.md)::

    python -m benchmark.gpu_slot --n {resources.gpu} [--share K] [--log FILE] -- python -m benchmark ...

Snakemake's ``gpu`` resource is only a counter; it never assigns a device (docs/workflow.md).
This wrapper does, as follows:

1. **Pass-through**: inside a SLURM allocation (``SLURM_JOB_ID`` set) the command runs unchanged:
   the scheduler already set ``CUDA_VISIBLE_DEVICES`` and renumbers devices from 0 per job, so a
   node-local lock on "0" would wrongly serialise independent jobs sharing a node (docs/workflow.md);
   ``--share`` is ignored there (sharing a GPU under SLURM is the scheduler's business).
   ``--n 0`` runs the command with ``CUDA_VISIBLE_DEVICES=""``, i.e. deliberately on CPU.
2. **Pool**: ``LTBENCH_GPU_IDS`` (comma-separated; empty counts as unset), else the
   ``CUDA_VISIBLE_DEVICES`` of the environment (set but empty = no GPUs), else
   ``nvidia-smi --query-gpu=index --format=csv,noheader``. Ids are opaque tokens (indices, UUIDs,
   MIG ids). An empty pool (CPU machine) runs the command unchanged on CPU and says so.
3. **Leasing**: one lock file per id in a node-local directory
   ``${XDG_RUNTIME_DIR:-/tmp}/ltbench-gpu-<uid>/gpu<ID>.lock`` (``LTBENCH_GPU_LOCK_DIR``
   overrides it, for tests). Exclusive non-blocking ``flock``; a job needing n GPUs takes all n at
   once or releases what it got and retries after a random 0.2–0.5 s, so multi-GPU jobs never
   hold-and-wait (no deadlock).
4. **Sharing** (``--share K``, default ``$LTBENCH_GPU_SHARE`` or 1): with K > 1 several jobs run
   on one GPU, because one small model at batch 128 leaves a modern GPU mostly idle. A sharing job
   takes one of K slots on each of n *distinct* GPUs: a *shared* flock on ``gpu<ID>.lock`` plus an
   exclusive flock on one slot file ``gpu<ID>.slot<j>.lock`` (j < K), all non-blocking, all or
   nothing, retried like the exclusive case. An exclusive job (K = 1, the lock names of before)
   still takes ``gpu<ID>.lock`` exclusively, so it waits until no sharer is left on that GPU and
   sharers wait for it: both kinds of job can run on one node without ever meeting on a GPU
   (an exclusive job may wait long while sharers keep arriving). Among the GPUs with a free slot
   the least loaded come first, so jobs spread over idle GPUs before they double up. Every job on a
   node should use the same K (a sharer only looks at slots below its own K).
5. **Hand-over**: ``CUDA_VISIBLE_DEVICES`` = the leased ids, ``CUDA_DEVICE_ORDER=PCI_BUS_ID``
   (indices match ``nvidia-smi``), the lock descriptors (slot files included) are made inheritable
   (Python opens them close-on-exec) and the command is ``exec``-ed: the training process itself
   holds the locks and the kernel frees them when it ends, even on SIGKILL. (A parent that waited
   on a child would free the GPU when killed while the training still ran.)
6. The leased ids (and slots) are logged (stderr and ``--log``); the holder's pid and command are
   written into the files it holds exclusively (``gpu<ID>.lock``, or its slot files when sharing).

Never import torch here: CUDA reads ``CUDA_VISIBLE_DEVICES`` once, at initialisation (docs/workflow.md).
For in-process use call :func:`acquire` before torch is imported and keep the returned
:class:`Lease` alive.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence

ENV_IDS = "LTBENCH_GPU_IDS"
ENV_LOCK_DIR = "LTBENCH_GPU_LOCK_DIR"
ENV_SHARE = "LTBENCH_GPU_SHARE"
RETRY_DELAY_S = (0.2, 0.5)
WAIT_LOG_EVERY_S = 60.0
_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


class GpuSlotError(RuntimeError):
    """The allocator cannot satisfy the request (the message says why and what to change)."""


# --------------------------------------------------------------------------------- the pool

def _split_ids(text: str) -> List[str]:
    return [tok.strip() for tok in text.split(",") if tok.strip()]


def query_nvidia_smi(timeout: float = 20.0) -> List[str]:
    """GPU indices reported by ``nvidia-smi``; [] when it is absent or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=timeout, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def gpu_pool(env: Optional[Mapping[str, str]] = None,
             smi: Callable[[], List[str]] = query_nvidia_smi) -> tuple:
    """(ids, source): the GPU ids this workflow may use, by preference (docs/workflow.md)."""
    env = os.environ if env is None else env
    explicit = env.get(ENV_IDS, "")
    if explicit.strip():
        return _split_ids(explicit), ENV_IDS
    if "CUDA_VISIBLE_DEVICES" in env:
        return _split_ids(env["CUDA_VISIBLE_DEVICES"]), "CUDA_VISIBLE_DEVICES"
    return smi(), "nvidia-smi"


def lock_dir(env: Optional[Mapping[str, str]] = None) -> Path:
    """Node-local lock directory: never on NFS, where flock is unreliable and shared across nodes."""
    env = os.environ if env is None else env
    if env.get(ENV_LOCK_DIR):
        return Path(env[ENV_LOCK_DIR])
    base = env.get("XDG_RUNTIME_DIR") or "/tmp"
    return Path(base) / f"ltbench-gpu-{os.getuid()}"


def lock_path(directory: Path, gpu_id: str) -> Path:
    """``gpu<ID>.lock``; ids that are not filename-safe (e.g. MIG ids with '/') get a hash suffix."""
    if _SAFE.match(gpu_id):
        name = gpu_id
    else:
        digest = hashlib.sha1(gpu_id.encode()).hexdigest()[:10]
        name = re.sub(r"[^A-Za-z0-9._-]", "_", gpu_id) + "-" + digest
    return directory / f"gpu{name}.lock"


# --------------------------------------------------------------------------------- leasing

def slot_path(directory: Path, gpu_id: str, slot: int) -> Path:
    """``gpu<ID>.slot<j>.lock``: slot j of a GPU shared by several jobs (next to ``gpu<ID>.lock``)."""
    gpu_lock = lock_path(directory, gpu_id)
    return gpu_lock.with_name(f"{gpu_lock.stem}.slot{slot}.lock")


@dataclass
class Lease:
    """GPU ids held through open, flock-ed descriptors (released on close/exit).

    ``fds`` holds each id's ``gpu<ID>.lock`` descriptor: flock-ed exclusively when ``share`` is 1,
    shared otherwise; a sharing lease also holds ``slot_fds`` (slot ``slots[id]`` of that id, flock-ed
    exclusively).
    """

    ids: List[str]
    fds: Dict[str, int] = field(default_factory=dict)
    directory: Optional[Path] = None
    share: int = 1
    slots: Dict[str, int] = field(default_factory=dict)
    slot_fds: Dict[str, int] = field(default_factory=dict)

    def _all_fds(self) -> List[int]:
        return list(self.fds.values()) + list(self.slot_fds.values())

    def make_inheritable(self) -> None:
        for fd in self._all_fds():
            os.set_inheritable(fd, True)

    def env(self) -> Dict[str, str]:
        return {"CUDA_VISIBLE_DEVICES": ",".join(self.ids), "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}

    def describe(self) -> str:
        """``a,b`` or, when shared, ``a (slot 0 of 2),b (slot 1 of 2)``: for the log."""
        if not self.slots:
            return ",".join(self.ids)
        return ",".join(f"{i} (slot {self.slots[i]} of {self.share})" for i in self.ids)

    def release(self) -> None:
        for fd in self._all_fds():
            try:
                os.close(fd)          # closing the last descriptor drops the flock
            except OSError:
                pass
        self.fds.clear()
        self.slot_fds.clear()


def _try_flock(path: Path, mode: int) -> Optional[int]:
    """Open ``path`` and flock it non-blockingly with ``mode`` (LOCK_EX or LOCK_SH); None if busy."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError:
        os.close(fd)
        raise
    return fd


def _try_lock(path: Path) -> Optional[int]:
    return _try_flock(path, fcntl.LOCK_EX)


def _close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _try_share_one(directory: Path, gpu_id: str, share: int) -> Optional[tuple]:
    """(gpu fd, slot, slot fd, busy) for one slot of ``gpu_id``, or None (nothing held).

    The shared flock on ``gpu<ID>.lock`` keeps exclusive (share 1) jobs off the GPU and fails while
    one of them holds it; the exclusive flock on a slot file caps the sharers at ``share``. ``busy``
    counts the slots other jobs hold, so that the caller can prefer the least loaded GPUs (the free
    slots are probed by locking and unlocking them at once).
    """
    gfd = _try_flock(lock_path(directory, gpu_id), fcntl.LOCK_SH)
    if gfd is None:
        return None                                   # an exclusive job holds this GPU
    taken: Optional[tuple] = None
    busy = 0
    try:
        for j in range(share):
            fd = _try_flock(slot_path(directory, gpu_id, j), fcntl.LOCK_EX)
            if fd is None:
                busy += 1
            elif taken is None:
                taken = (j, fd)
            else:
                os.close(fd)                          # probe only
    except BaseException:
        _close_all([gfd] + ([taken[1]] if taken else []))
        raise
    if taken is None:
        os.close(gfd)
        return None                                   # all ``share`` slots are taken
    return gfd, taken[0], taken[1], busy


def _try_acquire_shared(pool: Sequence[str], n: int, directory: Path, share: int) -> Optional[Lease]:
    """All-or-nothing: one slot on each of n distinct ids, the least loaded first (then pool order)."""
    got: List[tuple] = []                             # (busy, position, id, gpu fd, slot, slot fd)
    try:
        for pos, gpu_id in enumerate(pool):
            one = _try_share_one(directory, gpu_id, share)
            if one is None:
                continue
            gfd, slot, sfd, busy = one
            got.append((busy, pos, gpu_id, gfd, slot, sfd))
            if sum(1 for g in got if g[0] == 0) == n:
                break                                 # n idle GPUs: no better choice exists
    except BaseException:
        _close_all([fd for g in got for fd in (g[3], g[5])])
        raise
    if len(got) < n:
        _close_all([fd for g in got for fd in (g[3], g[5])])   # never hold-and-wait
        return None
    got.sort(key=lambda g: (g[0], g[1]))
    keep, drop = sorted(got[:n], key=lambda g: g[1]), got[n:]
    _close_all([fd for g in drop for fd in (g[3], g[5])])
    return Lease(ids=[g[2] for g in keep], fds={g[2]: g[3] for g in keep}, directory=directory,
                 share=share, slots={g[2]: g[4] for g in keep}, slot_fds={g[2]: g[5] for g in keep})


def try_acquire(pool: Sequence[str], n: int, directory: Path, share: int = 1) -> Optional[Lease]:
    """One all-or-nothing attempt, or None (nothing held).

    ``share`` 1: the first n free ids of the pool, each held exclusively. ``share`` K > 1: one of K
    slots on each of n distinct ids (see :func:`_try_share_one`).
    """
    if share > 1:
        return _try_acquire_shared(pool, n, directory, share)
    held: Dict[str, int] = {}
    try:
        for gpu_id in pool:
            fd = _try_lock(lock_path(directory, gpu_id))
            if fd is not None:
                held[gpu_id] = fd
                if len(held) == n:
                    return Lease(ids=list(held), fds=held, directory=directory)
    except BaseException:
        Lease(ids=list(held), fds=held).release()
        raise
    Lease(ids=list(held), fds=held).release()     # fewer than n: give back, never hold-and-wait
    return None


def _write_owner(lease: Lease, command: Sequence[str]) -> None:
    """Diagnostics only: who holds the lock (the pid survives exec).

    Written into the files this job holds exclusively: ``gpu<ID>.lock`` of an exclusive lease, the
    slot files of a sharing one (several sharers hold ``gpu<ID>.lock`` at once).
    """
    note = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}: " \
           f"{' '.join(command)[:500]}\n".encode()
    for fd in (lease.slot_fds.values() if lease.slot_fds else lease.fds.values()):
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, note, 0)
        except OSError:
            pass


def acquire(n: int, pool: Sequence[str], directory: Path, log: Callable[[str], None] = lambda m: None,
            sleep: Callable[[float], None] = time.sleep, rng: Optional[random.Random] = None,
            timeout: Optional[float] = None, share: int = 1) -> Lease:
    """Lease n ids of ``pool`` (one of ``share`` slots on each when ``share`` > 1), retrying after a
    random 0.2–0.5 s until they are free."""
    if n < 1:
        raise GpuSlotError(f"acquire needs n >= 1 GPUs, got {n}")
    if isinstance(share, bool) or not isinstance(share, int) or share < 1:
        raise GpuSlotError(f"share must be a whole number >= 1 (jobs per GPU; 1 = exclusive), got {share!r}")
    if n > len(pool):
        raise GpuSlotError(f"the job needs {n} GPU(s) but the pool has only {len(pool)} "
                           f"({', '.join(pool) or 'none'}); lower resources.gpu or widen the pool "
                           f"({ENV_IDS} / CUDA_VISIBLE_DEVICES)")
    if len(set(pool)) != len(pool):
        raise GpuSlotError(f"the GPU pool lists an id twice: {', '.join(pool)}; fix {ENV_IDS} or "
                           "CUDA_VISIBLE_DEVICES")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    rng = rng or random.Random()
    what = f"{n} free GPU(s)" if share == 1 else f"a free slot (of {share}) on {n} GPU(s)"
    start = time.monotonic()
    next_note = start + WAIT_LOG_EVERY_S
    first = True
    while True:
        lease = try_acquire(pool, n, directory, share=share)
        if lease is not None:
            return lease
        now = time.monotonic()
        if first:
            log(f"waiting for {what} of pool {','.join(pool)} (locks in {directory})")
            first = False
        elif now >= next_note:
            log(f"still waiting for {what} after {now - start:.0f} s")
            next_note = now + WAIT_LOG_EVERY_S
        if timeout is not None and now - start > timeout:
            raise GpuSlotError(f"no {what} of pool {','.join(pool)} within {timeout} s")
        sleep(rng.uniform(*RETRY_DELAY_S))


# --------------------------------------------------------------------------------- CLI

def _logger(path: Optional[str]) -> Callable[[str], None]:
    def log(message: str) -> None:
        line = f"[gpu_slot {time.strftime('%Y-%m-%d %H:%M:%S')} {socket.gethostname()} pid {os.getpid()}] " \
               f"{message}\n"
        sys.stderr.write(line)
        sys.stderr.flush()
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:     # closed again before exec
                f.write(line)
    return log


def _share_default(env: Mapping[str, str]) -> tuple:
    """(K, error): ``LTBENCH_GPU_SHARE`` as the default of ``--share`` (unset or empty: 1)."""
    text = env.get(ENV_SHARE, "").strip()
    if not text:
        return 1, None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        return 1, (f"{ENV_SHARE}={text!r} is not a whole number >= 1 (jobs per GPU; 1 = exclusive); "
                   f"fix or unset it, or pass --share")
    return value, None


def _parse(argv: Sequence[str], env: Optional[Mapping[str, str]] = None) -> tuple:
    argv = list(argv)
    env = os.environ if env is None else env
    if "--" not in argv:
        raise SystemExit("gpu_slot: usage: python -m benchmark.gpu_slot --n N [--share K] [--log FILE] "
                         "-- COMMAND ...\n(the '--' separating the command is missing)")
    cut = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -m benchmark.gpu_slot",
                                     description="Lease GPUs with node-local locks, then exec COMMAND.")
    parser.add_argument("--n", type=int, required=True, help="number of GPUs ({resources.gpu}); 0 = CPU")
    parser.add_argument("--share", type=int, default=None, metavar="K",
                        help=f"jobs per GPU: 1 = exclusive (default, or ${ENV_SHARE}); K > 1 = take one of "
                             "K slots on each of n distinct GPUs")
    parser.add_argument("--log", default=None, help="append allocator messages to this file")
    opts = parser.parse_args(argv[:cut])
    command = argv[cut + 1:]
    if not command:
        parser.error("no command after '--'")
    if opts.n < 0:
        parser.error(f"--n must be >= 0, got {opts.n}")
    if opts.share is None:
        opts.share, problem = _share_default(env)
        if problem:
            parser.error(problem)
    elif opts.share < 1:
        parser.error(f"--share must be >= 1 (jobs per GPU; 1 = exclusive), got {opts.share}")
    return opts, command


def _exec(command: Sequence[str], env: Mapping[str, str]) -> None:
    try:
        os.execvpe(command[0], list(command), dict(env))
    except OSError as exc:
        sys.stderr.write(f"gpu_slot: cannot run '{command[0]}': {exc} (is it installed and on PATH?)\n")
        raise SystemExit(127) from None


def main(argv: Optional[Sequence[str]] = None) -> None:
    opts, command = _parse(sys.argv[1:] if argv is None else argv)
    log = _logger(opts.log)
    env = dict(os.environ)

    if env.get("SLURM_JOB_ID"):
        log(f"SLURM job {env['SLURM_JOB_ID']}: pass-through, CUDA_VISIBLE_DEVICES="
            f"{env.get('CUDA_VISIBLE_DEVICES', '(unset)')} as set by the scheduler")
        _exec(command, env)
    if opts.n == 0:
        log("--n 0: running on CPU (CUDA_VISIBLE_DEVICES='')")
        env["CUDA_VISIBLE_DEVICES"] = ""
        _exec(command, env)

    pool, source = gpu_pool(env)
    if not pool:
        log(f"no GPUs found (pool from {source} is empty): running the command unchanged on CPU")
        _exec(command, env)

    directory = lock_dir(env)
    try:
        lease = acquire(opts.n, pool, directory, log=log, share=opts.share)
    except GpuSlotError as exc:
        log(f"error: {exc}")
        raise SystemExit(2) from None
    _write_owner(lease, command)
    lease.make_inheritable()
    env.update(lease.env())
    log(f"leased GPU id(s) {lease.describe()} of pool {','.join(pool)} (from {source}; locks in "
        f"{directory}); CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']}")
    _exec(command, env)


if __name__ == "__main__":
    main()
