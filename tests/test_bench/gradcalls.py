"""Record the calls to torch.autograd.grad inside a block: R1's double backward is one with create_graph."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def recorded_grad_calls() -> Iterator[list]:
    """Yield a list that receives each torch.autograd.grad call's create_graph argument made in the block."""
    calls: list = []
    original = torch.autograd.grad

    def counting_grad(*args, **kwargs):
        """The real autograd.grad, noted first."""
        calls.append(kwargs.get("create_graph"))
        return original(*args, **kwargs)

    torch.autograd.grad = counting_grad
    try:
        yield calls
    finally:
        torch.autograd.grad = original
