"""Site values of the SLURM profile (profiles/slurm), checked before anything is submitted.

The profile reads the site's partition and account from environment variables. Snakemake expands
``$NAME`` in resource values only when the variable exists; an unset one would be passed on
literally (``sbatch -p '$LTBENCH_SLURM_PARTITION'``) and every job would be rejected one by one,
after the plan was built. :func:`check_site` turns that into one clear message before the first
``sbatch``. An empty value is a deliberate choice and is accepted: for the partition it means
"the cluster's default partition", for the account "submit without ``-A``" (sites without
accounts).
"""
from __future__ import annotations

import os
import re
from typing import Dict, List, Mapping, Optional

# variable -> what to put there (shown when it is missing)
SITE_VARIABLES: Dict[str, str] = {
    "LTBENCH_SLURM_PARTITION": "the partition with GPUs (`sinfo -s` lists them; \"\" = the cluster's default)",
    "LTBENCH_SLURM_ACCOUNT": "the account/project to charge (`sacctmgr show assoc user=$USER format=account` "
                             "lists yours; \"\" = submit without an account)",
}
# Executors that submit to SLURM (the job-step executor inside a job needs nothing).
SLURM_EXECUTORS = ("slurm",)


class SlurmSiteError(RuntimeError):
    """A site value of profiles/slurm is unset."""


def missing_site_values(environ: Optional[Mapping[str, str]] = None) -> List[str]:
    """Names of :data:`SITE_VARIABLES` that are not set at all (empty strings count as set)."""
    env = os.environ if environ is None else environ
    return [name for name in SITE_VARIABLES if name not in env]


def site_error_message(missing: List[str]) -> str:
    lines = ["profiles/slurm needs these site values, which are not set (nothing was submitted):"]
    lines += [f"  {name}: {SITE_VARIABLES[name]}" for name in missing]
    lines.append("Set them in the shell that runs snakemake (or in ~/.bashrc), e.g.")
    lines += [f"  export {name}=..." for name in missing]
    return "\n".join(lines)


def check_site(executor: Optional[str], environ: Optional[Mapping[str, str]] = None) -> None:
    """Raise :class:`SlurmSiteError` when ``executor`` submits to SLURM and a site value is unset."""
    if executor not in SLURM_EXECUTORS:
        return
    missing = missing_site_values(environ)
    if missing:
        raise SlurmSiteError(site_error_message(missing))


def referenced_variables(profile_text: str) -> List[str]:
    """``$NAME``/``${NAME}`` references in a profile's text, in order of first use (comments
    skipped)."""
    names: List[str] = []
    for line in profile_text.splitlines():
        code = line.split("#", 1)[0]
        for m in re.finditer(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", code):
            if m.group(1) not in names:
                names.append(m.group(1))
    return names
