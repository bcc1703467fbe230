"""Closed-form LadaGAN parameter counts, summed layer by layer from the reference's layer list."""

from __future__ import annotations

from ladagan.presets import DiscriminatorConfig, GeneratorConfig


def linear(n_in: int, n_out: int, bias: bool = True) -> int:
    """Weights (+ biases) of a dense layer."""
    return n_in * n_out + (n_out if bias else 0)


def conv(n_in: int, n_out: int, k: int, bias: bool = True) -> int:
    """Weights (+ biases) of a k x k convolution."""
    return k * k * n_in * n_out + (n_out if bias else 0)


def attention(kind: str, dim: int, heads: int) -> int:
    """Four dim x dim projections, plus Lada's Linear(dim -> heads) score layer."""
    return 4 * linear(dim, dim) + (linear(dim, heads) if kind == "lada" else 0)


def g_block(cfg: GeneratorConfig, dim: int, heads: int, mlp_dim: int) -> int:
    """Two norms (SLN: z->dim hidden, dim->dim gamma and beta; plain LN: gamma, beta), attention, MLP."""
    norm = linear(cfg.z_dim, dim) + 2 * linear(dim, dim) if cfg.sln else 2 * dim
    return 2 * norm + attention(cfg.attention, dim, heads) + linear(dim, mlp_dim) + linear(mlp_dim, dim)


def generator_params(cfg: GeneratorConfig) -> int:
    """Dense init (no bias), three stages of pos-emb + block, two 3x3 convs, head, RGB conv."""
    d8, d16, d32 = cfg.dims
    total = linear(cfg.z_dim, 64 * d8, bias=False)
    for tokens, dim, heads, mlp_dim in zip((64, 256, 1024), cfg.dims, cfg.heads, cfg.mlp_dims, strict=True):
        total += tokens * dim + g_block(cfg, dim, heads, mlp_dim)
    total += conv(d8 // 4, d16, 3) + conv(d16 // 4, d32, 3)
    if cfg.dec_dims is None:
        patch = cfg.img_size // 32
        return total + conv(d32 // patch**2, 3, 3)
    widths = (d32, *cfg.dec_dims)
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        total += conv(a, b, 3) + 2 * b  # conv + BatchNorm gamma, beta
    return total + conv(widths[-1], 3, 3)


def discriminator_params(cfg: DiscriminatorConfig) -> int:
    """Stem conv, FastGAN down blocks (3 bias-free convs + 3 BNs), pos-emb + block, output convs."""
    enc = cfg.enc_dims
    total = conv(3, enc[0], 3, bias=False)
    for a, b in zip(enc[:-1], enc[1:], strict=True):
        total += conv(a, b, 3, bias=False) + conv(b, b, 3, bias=False) + conv(a, b, 1, bias=False) + 3 * 2 * b
    c = enc[-1]
    total += 256 * c
    total += 2 * 2 * c + attention(cfg.attention, c, cfg.heads) + linear(c, cfg.mlp_dim) + linear(cfg.mlp_dim, c)
    out0, out1 = cfg.out_dims
    return total + conv(4 * c, out0, 3) + conv(out0, out1, 1, bias=False) + conv(out1, 1, 4, bias=False)
