"""Convert the authors' TensorFlow LadaGAN variables (milmor/LadaGAN tensorflow/model.py) into our state dicts.

Input: a dict of checkpoint keys (`generator/block_8/attn/wq/kernel/.ATTRIBUTES/VARIABLE_VALUE`, as the
trainer's `tf.train.Checkpoint(generator=..., ema_generator=..., discriminator=...)` writes them) to
numpy arrays. Layout facts applied here: Dense kernels are (in, out), the transpose of
`nn.Linear.weight`; Conv2D kernels are (kh, kw, in, out); Keras BatchNormalization keeps gamma,
beta, moving mean and moving variance; positional embeddings are stored as they are; TF's
depth_to_space / space_to_depth order channels differently from pixel_shuffle / pixel_unshuffle,
so the layer feeding each pixel shuffle in G has its output channels permuted and the conv after
D's space-to-depth its input channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ladagan.presets import DiscriminatorConfig, GeneratorConfig

SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# Top-level names in the authors' trainer checkpoint (tensorflow/trainer.py create_ckpt).
NETWORKS = {"G": "generator", "G_ema": "ema_generator", "D": "discriminator"}
# Each kind of layer: our parameter name -> (the Keras variable name, how to lay it out).
_PARAMS = {
    "dense": {"weight": ("kernel", "dense"), "bias": ("bias", "as_is")},
    "dense_nobias": {"weight": ("kernel", "dense")},
    "conv": {"weight": ("kernel", "conv"), "bias": ("bias", "as_is")},
    "conv_nobias": {"weight": ("kernel", "conv")},
    "batchnorm": {
        "weight": ("gamma", "as_is"),
        "bias": ("beta", "as_is"),
        "running_mean": ("moving_mean", "as_is"),
        "running_var": ("moving_variance", "as_is"),
    },
    "layernorm": {"weight": ("gamma", "as_is"), "bias": ("beta", "as_is")},
    "embedding": {"weight": ("embeddings", "as_is")},
}


class ConversionError(ValueError):
    """The checkpoint's variables do not fit the model: `problems` lists each mismatch, first ones first."""

    def __init__(self, network: str, problems: list[str]) -> None:
        self.network, self.problems = network, problems
        # The Keras suffix on every key says nothing to a reader; drop it from the message.
        shown = "; ".join(p.replace(SUFFIX, "") for p in problems[:3])
        shown += f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        super().__init__(f"{network}: {len(problems)} mismatch{'es' if len(problems) > 1 else ''} ({shown})")


def tf_channel_order(channels: int, block: int) -> np.ndarray:
    """For each pixel_shuffle/pixel_unshuffle channel c*r*r + i*r + j, the TF channel (i*r + j)*C + c holding it.

    `channels` is the count on the many-channel side (C*r*r); C = channels // block**2.
    """
    per_pixel = channels // (block * block)
    # Row (i*r + j), column c holds the TF index; read column-major to get torch's c-major order.
    return np.arange(channels).reshape(block * block, per_pixel).T.reshape(-1)


def _layout(value: np.ndarray, how: str) -> np.ndarray:
    """Keras layout -> torch layout for one tensor."""
    # A tensor of the wrong rank is left as it is: the shape check then reports it.
    if how == "dense" and value.ndim == 2:
        return value.T
    if how == "conv" and value.ndim == 4:
        return value.transpose(3, 2, 0, 1)  # (kh, kw, in, out) -> (out, in, kh, kw)
    return value


@dataclass(frozen=True)
class Layer:
    """One of our modules and the Keras layer whose variables fill it."""

    ours: str  # module path in our model, e.g. "block_8.attn.q"
    theirs: str  # object path under the network, e.g. "block_8/attn/wq"
    kind: str  # a key of _PARAMS


def _dense_block(ours: str, theirs: str, sln: bool) -> list[Layer]:
    """A Ladaformer block: norms, Lada attention and the two-layer MLP."""
    norm = [("hidden", "h", "dense"), ("gamma", "gamma", "dense"), ("beta", "beta", "dense")]
    layers = [
        Layer(f"{ours}.attn.{a}", f"{theirs}/attn/{b}", "dense")
        for a, b in (("q", "wq"), ("k", "wk"), ("v", "wv"), ("score", "q_attn"), ("out", "to_out"))
    ]
    layers += [
        Layer(f"{ours}.mlp.0", f"{theirs}/mlp/layer_with_weights-0", "dense"),
        Layer(f"{ours}.mlp.2", f"{theirs}/mlp/layer_with_weights-1", "dense"),
    ]
    for n in ("norm1", "norm2"):
        if sln:  # SMLayerNormalization: its LayerNormalization has no variables
            layers += [Layer(f"{ours}.{n}.{a}", f"{theirs}/{n}/{b}", k) for a, b, k in norm]
        else:
            layers.append(Layer(f"{ours}.{n}", f"{theirs}/{n}", "layernorm"))
    return layers


def generator_layers(cfg: GeneratorConfig) -> list[Layer]:
    """Every G layer and its Keras counterpart (tensorflow/model.py Generator)."""
    layers = [Layer("init", "init/layer_with_weights-0", "dense_nobias")]
    for side in (8, 16, 32):
        layers.append(Layer(f"pos_{side}", f"pos_emb_{side}/position_embedding", "embedding"))
        layers += _dense_block(f"block_{side}", f"block_{side}", sln=True)
    layers += [
        Layer("conv_8", "conv_8", "conv"),
        Layer("conv_16", "conv_16", "conv"),
        Layer("to_rgb", "ch_conv", "conv"),
    ]
    for i, _ in enumerate(cfg.dec_dims or ()):  # each stage: upsample, conv, BatchNorm, LeakyReLU
        layers += [
            Layer(f"decoder.{i}.1", f"dec/layer_with_weights-{2 * i}", "conv"),
            Layer(f"decoder.{i}.2", f"dec/layer_with_weights-{2 * i + 1}", "batchnorm"),
        ]
    return layers


def discriminator_layers(cfg: DiscriminatorConfig) -> list[Layer]:
    """Every D layer and its Keras counterpart (tensorflow/model.py Discriminator; its 16x16 stage is named *_8)."""
    layers = [Layer("stem.0", "inp_conv/layer_with_weights-0", "conv_nobias")]
    for i in range(len(cfg.enc_dims) - 1):
        enc = f"encoder/{i}"
        layers += [
            Layer(f"encoder.{i}.main.1", f"{enc}/main/layer_with_weights-0", "conv_nobias"),
            Layer(f"encoder.{i}.main.2", f"{enc}/main/layer_with_weights-1", "batchnorm"),
            Layer(f"encoder.{i}.main.4", f"{enc}/main/layer_with_weights-2", "conv_nobias"),
            Layer(f"encoder.{i}.main.5", f"{enc}/main/layer_with_weights-3", "batchnorm"),
            Layer(f"encoder.{i}.direct.1", f"{enc}/direct/layer_with_weights-0", "conv_nobias"),
            Layer(f"encoder.{i}.direct.2", f"{enc}/direct/layer_with_weights-1", "batchnorm"),
        ]
    layers.append(Layer("pos_16", "pos_emb_8/position_embedding", "embedding"))
    layers += _dense_block("block_16", "block_8", sln=False)
    layers += [
        Layer("conv_8", "conv_4", "conv"),
        Layer("logits.0", "down_4/layer_with_weights-0", "conv_nobias"),
        Layer("logits.2", "down_4/layer_with_weights-1", "conv_nobias"),
    ]
    return layers


def _gather(
    variables: dict[str, np.ndarray], network: str, layers: list[Layer]
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Our parameter name -> torch-layout array for every mapped variable, plus the names found missing."""
    out, missing = {}, []
    for layer in layers:
        for param, (keras_name, how) in _PARAMS[layer.kind].items():
            key = f"{network}/{layer.theirs}/{keras_name}{SUFFIX}"
            if key in variables:
                out[f"{layer.ours}.{param}"] = _layout(np.asarray(variables[key]), how)
            else:
                missing.append(f"missing {key}")
    return out, missing


def _permute_generator(state: dict[str, np.ndarray], cfg: GeneratorConfig) -> None:
    """Reorder the output channels of each block's last MLP layer that feeds a depth_to_space."""
    shuffles = [("block_8", 2), ("block_16", 2)]
    if cfg.dec_dims is None and cfg.img_size > 32:
        shuffles.append(("block_32", cfg.img_size // 32))
    for block, r in shuffles:
        for param in ("weight", "bias"):
            key = f"{block}.mlp.2.{param}"
            if key in state and state[key].shape[0] % (r * r) == 0:
                state[key] = state[key][tf_channel_order(state[key].shape[0], r)]


def _permute_discriminator(state: dict[str, np.ndarray]) -> None:
    """Reorder the input channels of the conv after D's space_to_depth(2)."""
    weight = state.get("conv_8.weight")
    if weight is not None and weight.shape[1] % 4 == 0:
        state["conv_8.weight"] = weight[:, tf_channel_order(weight.shape[1], 2)]


def _unused(variables: dict[str, np.ndarray], network: str, layers: list[Layer]) -> list[str]:
    """Checkpoint variables under `network/` that no layer of ours takes (a sign of another architecture)."""
    taken = {f"{network}/{layer.theirs}/{name}{SUFFIX}" for layer in layers for name, _ in _PARAMS[layer.kind].values()}
    return [f"unexpected {key}" for key in sorted(variables) if key.startswith(f"{network}/") and key not in taken]


def convert_generator(
    variables: dict[str, np.ndarray], network: str, cfg: GeneratorConfig, model: nn.Module
) -> dict[str, torch.Tensor]:
    """A state dict for our generator `model` from the variables under `network/` ('generator' or 'ema_generator')."""
    if cfg.attention != "lada" or not cfg.sln or cfg.mlp_residual:
        raise ConversionError(
            network, ["the authors' checkpoints hold the reference generator; this config is an ablation"]
        )
    layers = generator_layers(cfg)
    state, missing = _gather(variables, network, layers)
    _permute_generator(state, cfg)
    return _state_dict(model, state, missing, _unused(variables, network, layers), network)


def convert_discriminator(
    variables: dict[str, np.ndarray], cfg: DiscriminatorConfig, model: nn.Module
) -> dict[str, torch.Tensor]:
    """A state dict for our discriminator `model` from the variables under `discriminator/`."""
    network = NETWORKS["D"]
    if cfg.attention != "lada" or not cfg.transformer:
        raise ConversionError(
            network, ["the authors' checkpoints hold the reference discriminator; this config is an ablation"]
        )
    layers = discriminator_layers(cfg)
    state, missing = _gather(variables, network, layers)
    _permute_discriminator(state)
    return _state_dict(model, state, missing, _unused(variables, network, layers), network)


def _state_dict(
    model: nn.Module,
    state: dict[str, np.ndarray],
    missing: list[str],
    unexpected: list[str],
    network: str,
) -> dict[str, torch.Tensor]:
    """`model`'s state dict with the converted arrays in it, or a ConversionError listing every mismatch.

    Shape mismatches come first (they say most about which architecture the checkpoint holds).
    """
    result = model.state_dict()
    problems = [
        f"{key} is {tuple(value.shape)} in the checkpoint but {tuple(result[key].shape)} here"
        for key, value in state.items()
        if tuple(value.shape) != tuple(result[key].shape)
    ]
    problems += missing + unexpected
    if not problems:  # every variable was found: any parameter still unfilled is a gap in the layer table
        problems = [
            f"no variable fills {key}" for key in result if key not in state and not key.endswith("num_batches_tracked")
        ]
    if problems:
        raise ConversionError(network, problems)
    for key, value in state.items():
        result[key] = torch.from_numpy(np.ascontiguousarray(value)).to(result[key].dtype)
    return result
