"""The data-parallel process group as torchrun sets it up: WORLD_SIZE, RANK and LOCAL_RANK in the
environment, gloo on the CPU, nccl on GPUs. One process without torchrun is a group of one, and every
collective here is then a no-op, so the loop has a single code path."""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


class Distributed:
    def __init__(self, device_type: str):
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self._owns_group = False
        if self.world_size > 1:
            if device_type == "cuda":
                torch.cuda.set_device(self.local_rank)
            if not dist.is_initialized():
                dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
                self._owns_group = True
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def gather_to_main(self, obj: Any) -> list[Any] | None:
        """[obj of rank 0, obj of rank 1, ...] on rank 0, None elsewhere."""
        if not self.enabled:
            return [obj]
        out = [None] * self.world_size if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self._owns_group:
            dist.destroy_process_group()
            self._owns_group = False


def unwrap(model: nn.Module) -> nn.Module:
    """The model a train_step receives with its DistributedDataParallel wrapper, if any, taken off:
    its own attributes and parameter names are those of the unwrapped model."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
