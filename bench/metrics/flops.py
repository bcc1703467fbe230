"""Operation counts: generator multiply-adds (fvcore) and training-step FLOPs (FlopCounterMode).

Conventions, stated in every output: fvcore counts one multiply-add as one "flop", so its numbers
are **MACs**; `torch.utils.flop_counter.FlopCounterMode` counts **FLOPs = 2 x MACs**. Both count only
the matrix products (linear, matmul, einsum, conv, attention); softmax, GELU, additions and
elementwise products are left out by both, which is the field's convention.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

with warnings.catch_warnings():
    # fvcore's import scripts a focal loss with torch.jit.script, which torch deprecates: a warning about
    # fvcore's code, not the user's, printed at every command start. Only that one message is hidden.
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import einsum_flop_jit


def _shape(value: Any) -> list[int]:
    """Static shape of a traced jit value (fvcore passes graph values to handles)."""
    return list(value.type().sizes())


def sdpa_macs_handle(inputs: list[Any], outputs: list[Any]) -> int:
    """fvcore handle for `aten::scaled_dot_product_attention`: QK^T plus attention x V multiply-adds."""
    q_shape, k_shape, v_shape = (_shape(v) for v in inputs[:3])
    *lead, q_tokens, head_dim = q_shape
    kv_tokens, value_dim = k_shape[-2], v_shape[-1]
    batch_heads = math.prod(lead)
    return batch_heads * q_tokens * kv_tokens * (head_dim + value_dim)


def einsum_macs_handle(inputs: list[Any], outputs: list[Any]) -> int:
    """fvcore handle for two-operand `aten::einsum`: exact MACs (the product of every index size).

    fvcore's own handle falls back to numpy's path estimate, rounded to four significant digits,
    for all but two equations; an exact count lets tests compare with closed forms.
    """
    equation = inputs[0].toIValue().replace(" ", "")
    operand_shapes = [_shape(v) for v in inputs[1].node().inputs()]
    lhs = equation.split("->")[0].split(",")
    if len(lhs) != 2 or "." in equation:
        return int(einsum_flop_jit(inputs, outputs))
    sizes: dict[str, int] = {}
    for letters, shape in zip(lhs, operand_shapes, strict=True):
        for letter, size in zip(letters, shape, strict=True):
            sizes[letter] = size
    return math.prod(sizes.values())


# Extra fvcore handles so attention is counted: fvcore silently counts SDPA as 0.
FVCORE_HANDLES: dict[str, Callable[[list[Any], list[Any]], int]] = {
    "aten::scaled_dot_product_attention": sdpa_macs_handle,
    "aten::einsum": einsum_macs_handle,
}
# Ops that carry no multiply-adds (or only elementwise work, uncounted by convention); named so
# fvcore does not warn about them on every call.
FVCORE_IGNORED = (
    "aten::softmax",
    "aten::gelu",
    "aten::add",
    "aten::mul",
    "aten::div",
    "aten::sub",
    "aten::pixel_shuffle",
    "aten::leaky_relu",
    "aten::relu",
    "aten::rsub",
    "aten::exp",
    "aten::sum",
    "aten::mean",
    "aten::var",
    "aten::sqrt",
    "aten::rsqrt",
    "aten::pow",
    "aten::sigmoid",
    "aten::tanh",
    "aten::neg",
    "aten::add_",
    "aten::mul_",
    "aten::scatter_",
    "aten::unflatten",
    "aten::var_mean",
    "aten::std",
    "aten::native_layer_norm",
)


def fvcore_macs(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[int, dict[str, int]]:
    """MACs of one forward pass with fvcore (attention handles added); total and per-operator split."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fvcore's import and tracing warnings say nothing about counts

        analysis = FlopCountAnalysis(module, inputs)
        analysis.set_op_handle(**FVCORE_HANDLES)
        analysis.set_op_handle(**{name: None for name in FVCORE_IGNORED})
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        was_training = module.training
        module.eval()
        try:
            total = int(analysis.total())
            by_op = {op: int(n) for op, n in analysis.by_operator().items()}
        finally:
            module.train(was_training)
    return total, by_op


def generator_macs_per_image(generator: nn.Module, z_dim: int, batch: int = 1) -> int:
    """MACs of one generator forward pass per generated image (fvcore, eval mode)."""
    z = torch.randn(batch, z_dim)
    total, _ = fvcore_macs(generator, (z,))
    return total // batch


class _GlobalOnlyTracker:
    """Stand-in for FlopCounterMode's module tracker that files every count under 'Global'."""

    parents = frozenset({"Global"})

    def __enter__(self) -> _GlobalOnlyTracker:
        """Nothing to install."""
        return self

    def __exit__(self, *exc: object) -> bool:
        """Nothing to remove."""
        return False


def counted_flops(fn: Callable[[], Any]) -> tuple[int, dict[str, int]]:
    """FLOPs (=2 x MACs) of everything `fn` runs, forward and backward, under the math SDPA backend.

    The math backend makes attention decompose into counted matrix products; fused CPU kernels
    would otherwise count as zero.
    """

    counter = FlopCounterMode(display=False)
    # Its per-module tracker installs backward hooks that raise under autograd.grad on a leaf (R1's
    # gradient penalty); counting only the global total avoids them.
    counter.mod_tracker = _GlobalOnlyTracker()
    with sdpa_kernel(SDPBackend.MATH), counter:
        fn()
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return int(counter.get_total_flops()), by_op


def module_forward_flops(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    """FLOPs (=2 x MACs) of one forward pass with FlopCounterMode (no gradients)."""
    with torch.no_grad():
        total, _ = counted_flops(lambda: module(*inputs))
    return total
