"""A throw-away single-node SLURM cluster on localhost, for tests.

It installs nothing. Given Debian's packages (``apt-get install slurm-wlm munge``) it

1. writes a munge key, ``slurm.conf`` and ``gres.conf`` into a fresh temporary folder (nothing
   under /etc is read or written; clients find the cluster through ``SLURM_CONF``),
2. starts ``munged`` (its own socket and key), ``slurmctld`` and ``slurmd`` on free local ports,
3. declares ``gpus`` placeholder GPUs as generic resources (GRES), backed by links to /dev/null
   named like NVIDIA device nodes, so that jobs request GPUs exactly as on a real cluster
   (``sbatch --gpus=1``) and then run on the CPU,
4. waits until the node is idle, and
5. on exit stops exactly the daemons it started, by the pids in their pid files.

Why squeue is enough for job states: this cluster has no accounting database (``sacct`` answers
"accounting storage is disabled"), so Snakemake's SLURM executor plugin must be told
``--slurm-status-command squeue``. squeue only knows a finished job while slurmctld keeps it,
i.e. for ``MinJobAge`` seconds; the plugin falls back to sacct when ``MinJobAge`` is below three
status-check intervals, so this cluster keeps finished jobs for an hour.

Usage from Python (the tests)::

    with LocalSlurm.start_new(cpus=8, gpus=2) as cluster:
        subprocess.run(["sbatch", ...], env=cluster.env())

Usage from a shell (starts the cluster, runs the command with ``SLURM_CONF`` set, stops it)::

    python tests/cluster/local_slurm.py -- sinfo
    python tests/cluster/local_slurm.py --cpus 8 -- bash    # an interactive cluster session

Daemons run as the calling user; slurmd must be root to launch jobs, so :func:`cannot_start`
names what is missing (root, a binary) instead of letting a test hang.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from benchmark.hostinfo import pid_alive

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo")
# Client commands that get a shim in <root>/bin (see LocalSlurm._write_shims).
CLIENTS = ("srun", "sbatch", "squeue", "scontrol", "scancel", "sinfo", "sacct")
PARTITION = "ltbench"
# Finished jobs stay visible to squeue/scontrol this long (see the module docstring).
MIN_JOB_AGE_S = 3600


@dataclass(frozen=True)
class ClusterSpec:
    """What the cluster looks like. ``cpus``/``memory_mb`` may exceed the machine: slurmd is told
    to trust the configuration (``SlurmdParameters=config_overrides``), so a 2-core CI machine can
    host jobs that ask for a real cluster's CPU counts (they simply share the cores)."""

    root: Path
    host: str
    user: str
    cpus: int = 8
    memory_mb: int = 16000
    gpus: int = 2
    ctld_port: int = 6817
    slurmd_port: int = 6818
    partition: str = PARTITION

    @property
    def cluster_name(self) -> str:
        """Unique per instance: every process a job starts carries it (SLURM_CLUSTER_NAME)."""
        return f"ltbench{self.ctld_port}"

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def munge_socket(self) -> Path:
        return self.root / "munge" / "munge.socket"

    def gpu_files(self) -> List[Path]:
        return [self.root / "dev" / f"nvidia{i}" for i in range(self.gpus)]


def render_slurm_conf(s: ClusterSpec) -> str:
    """slurm.conf for one node that is both controller and compute node.

    - ``auth/munge`` through our own munged socket (``AuthInfo=socket=...``),
    - no accounting database, no cgroups (containers rarely allow them): ``proctrack/pgid``,
      ``task/none``,
    - ``select/cons_tres`` with ``CR_Core_Memory`` so CPU, memory and GPU requests are all
      checked against the node, as on a real GPU partition,
    - ``MinJobAge`` long enough for squeue-based job states.
    """
    r = s.root
    gres = f" Gres=gpu:{s.gpus}" if s.gpus else ""
    return "\n".join([
        "# written by tests/cluster/local_slurm.py; removed when the cluster stops",
        f"ClusterName={s.cluster_name}",
        f"SlurmctldHost={s.host}(127.0.0.1)",  # the address: no name lookup needed
        f"SlurmctldPort={s.ctld_port}",
        f"SlurmdPort={s.slurmd_port}",
        f"SlurmUser={s.user}",
        f"SlurmdUser={s.user}",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={s.munge_socket}",
        f"StateSaveLocation={r / 'state'}",
        f"SlurmdSpoolDir={r / 'spool'}",
        f"SlurmctldPidFile={r / 'slurmctld.pid'}",
        f"SlurmdPidFile={r / 'slurmd.pid'}",
        f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}",
        f"SlurmdLogFile={r / 'log' / 'slurmd.log'}",
        "SlurmctldDebug=info",
        "SlurmdDebug=info",
        # process groups: a job's processes are found (and killed on cancel/requeue) even after
        # their parent died; linuxproc loses a child that was re-parented to init
        "ProctrackType=proctrack/pgid",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/none",
        "MpiDefault=none",
        "MailProg=/bin/true",
        "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "SlurmdParameters=config_overrides",
        "ReturnToService=2",
        f"MinJobAge={MIN_JOB_AGE_S}",
        "KillWait=5",
        "InactiveLimit=0",
        "GresTypes=gpu",
        f"NodeName={s.host} NodeAddr=127.0.0.1 CPUs={s.cpus} RealMemory={s.memory_mb}{gres} State=UNKNOWN",
        f"PartitionName={s.partition} Nodes={s.host} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


def render_gres_conf(s: ClusterSpec) -> str:
    """gres.conf: the placeholder GPUs, one file each, no NVML auto-detection."""
    lines = ["# placeholder GPUs: jobs get them as on a real cluster and run on the CPU", "AutoDetect=off"]
    lines += [f"NodeName={s.host} Name=gpu File={f}" for f in s.gpu_files()]
    return "\n".join(lines) + "\n"


def cannot_start() -> Optional[str]:
    """Why this machine cannot host the cluster (None if it can)."""
    missing = [b for b in BINARIES if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if missing:
        return (f"SLURM/munge binaries not found: {', '.join(missing)} "
                "(Debian/Ubuntu: apt-get install -y slurm-wlm munge)")
    if os.geteuid() != 0:
        return "slurmd must run as root to launch jobs; run the test as root (CI does)"
    return None


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exe(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin") / name)


def _read_pid(path: Path) -> Optional[int]:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class ClusterError(RuntimeError):
    """The cluster did not come up; the message carries the daemons' log tails."""


@dataclass
class LocalSlurm:
    spec: ClusterSpec
    keep: bool = False  # keep the folder after stop (debugging)
    _pidfiles: List[Path] = field(default_factory=list)

    # ---------------------------------------------------------------- construction
    @classmethod
    def start_new(cls, root: Optional[Path] = None, cpus: int = 8, memory_mb: int = 16000, gpus: int = 2,
                  timeout: float = 60.0, keep: bool = False) -> "LocalSlurm":
        why = cannot_start()
        if why:
            raise ClusterError(why)
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="ltbench-slurm-"))
        import pwd

        spec = ClusterSpec(root=Path(root).resolve(), host=socket.gethostname().split(".")[0],
                           user=pwd.getpwuid(os.geteuid()).pw_name, cpus=cpus, memory_mb=memory_mb, gpus=gpus,
                           ctld_port=free_port(), slurmd_port=free_port())
        cluster = cls(spec, keep=keep)
        try:
            cluster._write_files()
            cluster._start_daemons(timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def env(self, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """An environment whose SLURM clients (sbatch, squeue, ...) talk to this cluster:
        ``SLURM_CONF`` set, and the client shims first on ``PATH``."""
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.spec.conf)
        env["PATH"] = f"{self.spec.root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    def __enter__(self) -> "LocalSlurm":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---------------------------------------------------------------- files
    def _write_files(self) -> None:
        s = self.spec
        for d in ("state", "spool", "log", "munge", "dev"):
            (s.root / d).mkdir(parents=True, exist_ok=True)
        os.chmod(s.root / "munge", 0o700)
        key = s.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        for f in s.gpu_files():
            # slurmd accepts only character/block devices as GRES files; a link to /dev/null is
            # one, needs no mknod privilege, and nothing ever reads or writes it.
            f.symlink_to("/dev/null")
        s.conf.write_text(render_slurm_conf(s))
        (s.root / "gres.conf").write_text(render_gres_conf(s))
        self._write_shims()

    def _write_shims(self) -> None:
        """Client commands that find this cluster even where ``SLURM_CONF`` was removed.

        A real cluster's clients read /etc/slurm/slurm.conf; this one's config lives in a temporary
        folder and is found through ``SLURM_CONF`` only. Snakemake's SLURM job-step plugin drops
        every ``SLURM_*`` variable (``SLURM_CONF`` too) before it calls ``srun`` inside a job, so
        that ``srun`` would find no cluster. Each shim restores the variable when it is missing and
        runs the real command."""
        bin_dir = self.spec.root / "bin"
        bin_dir.mkdir(exist_ok=True)
        for name in CLIENTS:
            real = shutil.which(name, path=os.defpath + os.pathsep + "/usr/bin:/usr/sbin")
            if real is None:
                continue
            shim = bin_dir / name
            shim.write_text(f'#!/bin/sh\nexport SLURM_CONF="${{SLURM_CONF:-{self.spec.conf}}}"\nexec {real} "$@"\n')
            shim.chmod(0o755)

    # ---------------------------------------------------------------- daemons
    def _daemon(self, argv: Sequence[str], pidfile: Path, timeout: float = 20.0) -> None:
        """Start a self-daemonising program and wait for its pid file."""
        self._pidfiles.append(pidfile)
        proc = subprocess.run(list(argv), env=self.env(), capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise ClusterError(f"{' '.join(argv)} exited with {proc.returncode}:\n{proc.stdout}{proc.stderr}"
                               + self.log_tails())
        deadline = time.time() + timeout
        while time.time() < deadline:
            pid = _read_pid(pidfile)
            if pid and pid_alive(pid):
                return
            time.sleep(0.2)
        raise ClusterError(f"{argv[0]} wrote no pid file {pidfile}" + self.log_tails())

    def _start_daemons(self, timeout: float) -> None:
        s = self.spec
        m = s.root / "munge"
        self._daemon([_exe("munged"), "--force", f"--socket={s.munge_socket}", f"--key-file={m / 'munge.key'}",
                      f"--pid-file={m / 'munged.pid'}", f"--log-file={s.root / 'log' / 'munged.log'}",
                      f"--seed-file={m / 'munged.seed'}"], m / "munged.pid")
        # -i: ignore state from an earlier run (there is none in a fresh folder; belt and braces)
        self._daemon([_exe("slurmctld"), "-i", "-f", str(s.conf)], s.root / "slurmctld.pid")
        self._daemon([_exe("slurmd"), "-f", str(s.conf)], s.root / "slurmd.pid")
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float) -> None:
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            dead = [f.name for f in self._pidfiles if not (_read_pid(f) and pid_alive(_read_pid(f)))]
            if dead:
                raise ClusterError(f"daemon(s) exited: {', '.join(dead)}" + self.log_tails())
            p = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], env=self.env(), capture_output=True, text=True)
            state = (p.stdout + p.stderr).strip()
            if p.returncode == 0 and state.split() and all(t.rstrip("*") == "idle" for t in state.split()):
                return
            time.sleep(0.5)
        raise ClusterError(f"node not idle after {timeout:.0f} s (sinfo: {state!r})" + self.log_tails())

    def log_tails(self, lines: int = 15) -> str:
        out = []
        for f in sorted((self.spec.root / "log").glob("*.log")):
            with contextlib.suppress(OSError):
                tail = f.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"\n--- {f} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "".join(out)

    def cancel_all_jobs(self, timeout: float = 30.0) -> None:
        """Cancel every job of this (private) cluster and wait until none runs: a job step
        (slurmstepd) would otherwise outlive slurmd."""
        env = self.env()
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            ids = subprocess.run(["squeue", "-h", "-t", "PD,R,CG,S,CF,RQ,RS,SE,RF,RH,RD", "-o", "%i"], env=env,
                                 capture_output=True, text=True, timeout=10).stdout.split()
            if not ids:
                return
            subprocess.run(["scancel"] + ids, env=env, capture_output=True, timeout=10)
            deadline = time.time() + timeout
            while time.time() < deadline:
                left = subprocess.run(["squeue", "-h", "-t", "R,CG", "-o", "%i"], env=env, capture_output=True,
                                      text=True, timeout=10).stdout.split()
                if not left:
                    return
                time.sleep(0.5)

    def job_leftovers(self) -> List[int]:
        """Processes that jobs of this cluster started and that outlived their job (e.g. a
        program that ignored SIGTERM and was re-parented): recognised by this cluster's unique
        SLURM_CLUSTER_NAME or SLURM_CONF in their environment."""
        marks = (f"SLURM_CLUSTER_NAME={self.spec.cluster_name}".encode(), f"SLURM_CONF={self.spec.conf}".encode())
        pids = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) == os.getpid():
                continue
            try:
                env = (d / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(m in env for m in marks):
                pids.append(int(d.name))
        return pids

    def kill_job_leftovers(self) -> None:
        for pid in self.job_leftovers():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """Cancel the cluster's jobs, then stop the daemons started here (reverse order), by their
        pid files only."""
        ctld = _read_pid(self.spec.root / "slurmctld.pid")
        if ctld and pid_alive(ctld) and (self.spec.root / "slurmctld.pid") in self._pidfiles:
            self.cancel_all_jobs()
        for pidfile in reversed(self._pidfiles):
            pid = _read_pid(pidfile)
            if not pid or not pid_alive(pid):
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.time() + 15
            while time.time() < deadline and pid_alive(pid):
                time.sleep(0.2)
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._pidfiles.clear()
        self.kill_job_leftovers()
        if not self.keep:
            shutil.rmtree(self.spec.root, ignore_errors=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                usage="%(prog)s [--cpus N] [--gpus N] [--memory-mb MB] [--keep] -- COMMAND ...")
    p.add_argument("--cpus", type=int, default=8)
    p.add_argument("--gpus", type=int, default=2)
    p.add_argument("--memory-mb", type=int, default=16000)
    p.add_argument("--keep", action="store_true", help="keep the cluster folder (config, logs) afterwards")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        p.error("give a command to run against the cluster, e.g. -- sinfo")
    why = cannot_start()
    if why:
        print(f"local_slurm: cannot start: {why}", file=sys.stderr)
        return 2
    with LocalSlurm.start_new(cpus=a.cpus, gpus=a.gpus, memory_mb=a.memory_mb, keep=a.keep) as cluster:
        print(f"local_slurm: cluster up, SLURM_CONF={cluster.spec.conf}", file=sys.stderr)
        return subprocess.run(cmd, env=cluster.env()).returncode


if __name__ == "__main__":
    sys.exit(main())
