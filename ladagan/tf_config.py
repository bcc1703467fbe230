"""Map the authors' `config.json` (milmor/LadaGAN tensorflow/config.py keys) onto our model configs."""

from __future__ import annotations

from typing import Any

from ladagan.presets import DiscriminatorConfig, GeneratorConfig

# The keys that fix the architecture; the rest of the file is the training recipe.
ARCHITECTURE_KEYS = (
    "img_size",
    "noise_dim",
    "g_dim",
    "g_heads",
    "g_mlp",
    "dec_dim",
    "d_enc_dim",
    "d_out_dim",
    "d_heads",
    "d_mlp",
)


class ConfigError(ValueError):
    """An authors' config that cannot describe a LadaGAN we can build; the message names the key."""


def _ints(conf: dict[str, Any], key: str, length: int | None = None) -> tuple[int, ...]:
    """A list of integers from the config, checked."""
    value = conf[key]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and v > 0 for v in value):
        raise ConfigError(f"config key '{key}' must be a list of positive integers (got {value!r})")
    if length is not None and len(value) != length:
        raise ConfigError(f"config key '{key}' must have {length} entries (got {len(value)})")
    return tuple(value)


def _int(conf: dict[str, Any], key: str) -> int:
    """A positive integer from the config, checked."""
    value = conf[key]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"config key '{key}' must be a positive integer (got {value!r})")
    return value


def architecture_from_config(conf: dict[str, Any]) -> tuple[GeneratorConfig, DiscriminatorConfig]:
    """Our (G, D) configs for the architecture an authors' config.json describes."""
    missing = [k for k in ARCHITECTURE_KEYS if k not in conf]
    if missing:
        raise ConfigError(f"config has no {', '.join(repr(k) for k in missing)}; it is not a LadaGAN config.json")
    res = _int(conf, "img_size")
    # `dec_dim: false` selects patch mode (tensorflow/model.py), a list the conv decoder's widths.
    dec = conf["dec_dim"]
    dec_dims = None if dec is False or dec is None else _ints(conf, "dec_dim")
    generator = GeneratorConfig(
        img_size=res,
        z_dim=_int(conf, "noise_dim"),
        dims=_ints(conf, "g_dim", 3),
        heads=_ints(conf, "g_heads", 3),
        mlp_dims=_ints(conf, "g_mlp", 3),
        dec_dims=dec_dims,
    )
    discriminator = DiscriminatorConfig(
        img_size=res,
        enc_dims=_ints(conf, "d_enc_dim"),
        out_dims=_ints(conf, "d_out_dim", 2),
        heads=_int(conf, "d_heads"),
        mlp_dim=_int(conf, "d_mlp"),
    )
    return generator, discriminator


def config_differences(ours: object, theirs: object, prefix: str) -> list[str]:
    """'field: ours != theirs' for every field where two configs of one class differ."""
    return [
        f"{prefix}.{name}: preset {getattr(ours, name)!r} != checkpoint {getattr(theirs, name)!r}"
        for name in ours.__dataclass_fields__
        if getattr(ours, name) != getattr(theirs, name)
    ]
