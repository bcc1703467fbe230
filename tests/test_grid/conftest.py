"""Fixtures of the grid tests: a real one-node SLURM (the local one scripts/local_slurm.sh starts)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from gridcheck import LOCAL_CLUSTER, SCRIPT, cluster_name, slurm_answers


@pytest.fixture(scope="session")
def slurm() -> None:
    """The local one-node SLURM (running, or started here as root); never a real cluster's; else skip."""
    if slurm_answers():
        if cluster_name() != LOCAL_CLUSTER:
            pytest.skip(f"the SLURM here is cluster '{cluster_name()}', not the local test one: no test jobs sent")
        return
    if os.geteuid() != 0 or shutil.which("slurmctld") is None:
        pytest.skip("no SLURM here and none can start (needs root and `scripts/local_slurm.sh install`)")
    done = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True, check=False)
    if done.returncode != 0 or not slurm_answers():
        pytest.skip(f"scripts/local_slurm.sh start failed: {(done.stderr or done.stdout).strip()[:200]}")
