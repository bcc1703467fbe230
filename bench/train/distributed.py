"""Multi-process training with torchrun: process-group setup, rank roles, and small collectives.

Conventions (docs/multi-gpu.md): `--batch` is the global batch, split evenly over the processes;
the data order is that of a single process (each rank takes its slice of every global batch), so
images seen count globally and a snapshot resumes under any process count. Only rank 0 writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    """This process's place in the job (rank 0 of 1 when not launched by torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1

    @property
    def is_writer(self) -> bool:
        """Only rank 0 writes the run directory."""
        return self.rank == 0


def launched_world_size() -> int:
    """WORLD_SIZE set by torchrun (1 when started directly)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init(device: str) -> Dist:
    """Join the torchrun job (gloo on CPU, NCCL on CUDA); a plain Dist when not under torchrun."""
    world_size = launched_world_size()
    if world_size <= 1:
        return Dist()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return Dist(rank=rank, world_size=world_size, local_rank=local_rank)


def shutdown() -> None:
    """Leave the process group (a no-op when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_device(device: str, info: Dist) -> str:
    """Each rank's device: cuda:<local rank> for CUDA jobs, the device as given otherwise."""
    if info.enabled and torch.device(device).type == "cuda":
        return f"cuda:{info.local_rank}"
    return device


def broadcast_object(value: Any, info: Dist) -> Any:
    """Rank 0's value on every rank."""
    if not info.enabled:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def gather_objects(value: Any, info: Dist) -> list[Any]:
    """Every rank's value, in rank order, on every rank."""
    if not info.enabled:
        return [value]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, value)
    return out


def mean_over_ranks(tensor: torch.Tensor, info: Dist) -> torch.Tensor:
    """The element-wise mean of a tensor across ranks (the tensor itself when alone)."""
    if not info.enabled:
        return tensor
    work = tensor.clone()
    dist.all_reduce(work, op=dist.ReduceOp.SUM)
    return work / info.world_size


def barrier(info: Dist) -> None:
    """Wait for every rank."""
    if info.enabled:
        dist.barrier()


def split_sizes(count: int, world_size: int) -> list[int]:
    """How a global batch of `count` images splits over ranks: as evenly as possible, earlier ranks larger."""
    base, extra = divmod(count, world_size)
    return [base + (1 if r < extra else 0) for r in range(world_size)]
