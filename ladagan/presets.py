"""LadaGAN configurations as plain data: the authors' defaults, our documented choices, tiny presets.

Every preset records its `source`: the authors' per-dataset `config.json` (printed in the saved
outputs of milmor/LadaGAN `demo.ipynb` at commits 7799dff and 01934f8), the authors' default
`tensorflow/config.py` (commit eb3ed9c), or our own choice with the reason. Field names follow the
reference code (`g_dim` -> `dims`, `enc_dim` -> `enc_dims`, `gp_weight` -> `r1_gamma`,
`policy` -> `augment`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape of the LadaGAN generator (three Ladaformer stages at 8x8, 16x16 and 32x32 tokens)."""

    img_size: int = 64
    z_dim: int = 128
    dims: tuple[int, int, int] = (1024, 256, 64)
    heads: tuple[int, int, int] = (4, 4, 4)
    mlp_dims: tuple[int, int, int] = (512, 512, 512)
    # None: patch mode (pixel shuffle by img_size/32); a tuple: conv decoder widths, one per x2.
    dec_dims: tuple[int, ...] | None = None
    # Ablation switches; the defaults are the authors' architecture.
    attention: str = "lada"  # "lada" | "dot"
    sln: bool = True  # False: plain affine LayerNorm instead of self-modulated LN
    mlp_residual: bool = False  # True: add the residual around the G block's MLP (not in the reference)
    ln_eps: float = 1e-6  # TF LayerNormalization(epsilon=1e-6) in SLN
    bn_eps: float = 1e-3  # Keras BatchNormalization default, used only by the conv decoder


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Shape of the LadaGAN discriminator (FastGAN down blocks to 16x16, one Ladaformer, 25 logits)."""

    img_size: int = 64
    enc_dims: tuple[int, ...] = (64, 128, 256)
    out_dims: tuple[int, int] = (512, 1024)
    heads: int = 4
    mlp_dim: int = 512
    attention: str = "lada"  # "lada" | "dot"
    transformer: bool = True  # False: no positional embedding + Ladaformer at 16x16 (conv-only D ablation)
    ln_eps: float = 1e-6  # TF LayerNormalization(epsilon=1e-6); the PyTorch port uses 1e-5
    bn_eps: float = 1e-3  # Keras BatchNormalization default; the PyTorch port uses 1e-5


@dataclass(frozen=True)
class TrainingConfig:
    """The reference training recipe (tensorflow/config.py): Adam, NS-GAN loss, R1 every step, EMA 0.999."""

    batch_size: int = 128
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.99)
    adam_eps: float = 1e-7  # Keras Adam default; the PyTorch port uses 1e-8
    # Coefficient on mean_batch(||grad_x sum(D(aug(x)))||^2): TF `gp_weight` (= gamma/2 in StyleGAN notation).
    r1_gamma: float = 1e-4
    ema_decay: float = 0.999
    augment: str = "color,translation"  # DiffAugment policy (TF `policy`)
    # Balanced consistency regularisation (TF `bcr`, `cr_weight`): D sees un-augmented images and is
    # pulled towards equal logits on their augmented copies; the G step then uses no augmentation.
    bcr: bool = False
    cr_weight: float = 0.1
    # "fresh": G_ema starts from a freshly initialised G (TF `clone_model`); "copy": from G's own weights.
    ema_start: str = "fresh"


@dataclass(frozen=True)
class Preset:
    """A named, complete configuration: generator, discriminator, training recipe and provenance."""

    name: str
    resolution: int
    generator: GeneratorConfig
    discriminator: DiscriminatorConfig
    training: TrainingConfig = field(default_factory=TrainingConfig)
    source: str = ""

    def with_overrides(self, **generator_and_discriminator: object) -> Preset:
        """Copy with the same fields changed in both G and D configs where they exist (e.g. attention)."""
        g_fields = GeneratorConfig.__dataclass_fields__
        d_fields = DiscriminatorConfig.__dataclass_fields__
        g_kw = {k: v for k, v in generator_and_discriminator.items() if k in g_fields}
        d_kw = {k: v for k, v in generator_and_discriminator.items() if k in d_fields}
        unknown = set(generator_and_discriminator) - set(g_fields) - set(d_fields)
        if unknown:
            raise KeyError(f"unknown config fields: {sorted(unknown)}")
        return replace(
            self,
            generator=replace(self.generator, **g_kw),
            discriminator=replace(self.discriminator, **d_kw),
        )


def authors_config(dataset: str, commit: str) -> str:
    """Provenance of a preset taken from one of the authors' released per-dataset configs."""
    return (
        f"authors' config {dataset}/config.json (milmor/LadaGAN demo.ipynb saved output @ {commit}); "
        "defaults it does not set from tensorflow/config.py @ eb3ed9c"
    )


# D encoder widths per resolution: the encoder must end at 16x16, so len(enc_dims) = log2(img/16) + 1.
_D_ENC_256_OURS = (16, 32, 64, 128, 256)  # UNK upstream (length 5 known): halve widths per extra block

PRESETS: dict[str, Preset] = {
    "cifar10": Preset(
        name="cifar10",
        resolution=32,
        generator=GeneratorConfig(img_size=32),
        discriminator=DiscriminatorConfig(img_size=32, enc_dims=(128, 256)),
        source=authors_config("cifar10", "7799dff"),
    ),
    "celeba64": Preset(
        name="celeba64",
        resolution=64,
        generator=GeneratorConfig(img_size=64),
        discriminator=DiscriminatorConfig(img_size=64, enc_dims=(64, 128, 256)),
        source=authors_config("celeba_64", "7799dff"),
    ),
    "ffhq128": Preset(
        name="ffhq128",
        resolution=128,
        generator=GeneratorConfig(img_size=128, dims=(1024, 512, 256), dec_dims=(128, 64)),
        discriminator=DiscriminatorConfig(img_size=128, enc_dims=(32, 64, 128, 256)),
        training=TrainingConfig(batch_size=64, augment="color,translation,cutout", bcr=True, cr_weight=0.1),
        source=authors_config("ffhq_128", "01934f8"),
    ),
    "bedroom256": Preset(
        name="bedroom256",
        resolution=256,
        generator=GeneratorConfig(img_size=256, dims=(1024, 512, 256), dec_dims=(128, 64, 32)),
        discriminator=DiscriminatorConfig(img_size=256, enc_dims=_D_ENC_256_OURS),
        source="our choice: the authors' 256-px config is unknown (no released config.json shows it); the "
        "ffhq_128 model plus one more conv decoder stage (32), D with one more down block of halved "
        "widths; recipe = tensorflow/config.py defaults",
    ),
}

# Tiny presets: same architecture, small widths, so a CPU with 2 cores trains at useful speed.
_TINY_TRAINING = TrainingConfig(batch_size=32)
_TINY_D_ENC = {32: (32, 64), 64: (16, 32, 64), 128: (16, 16, 32, 64), 256: (8, 16, 16, 32, 64)}
# One conv-decoder stage per x2 above 32 px (len = log2(res/32)); patch mode would leave too few channels.
_TINY_DEC = {32: None, 64: None, 128: (16, 8), 256: (16, 8, 8)}
for _res in (32, 64, 128, 256):
    PRESETS[f"tiny{_res}"] = Preset(
        name=f"tiny{_res}",
        resolution=_res,
        generator=GeneratorConfig(
            img_size=_res,
            dims=(128, 64, 32),
            heads=(2, 2, 2),
            mlp_dims=(128, 128, 128),
            dec_dims=_TINY_DEC[_res],
        ),
        discriminator=DiscriminatorConfig(
            img_size=_res, enc_dims=_TINY_D_ENC[_res], out_dims=(64, 128), heads=2, mlp_dim=128
        ),
        training=_TINY_TRAINING,
        source="our choice: the authors' architecture at small widths for CPU smoke runs and the "
        "quick benchmark; not comparable to published numbers",
    )

# The preset a resolution gets when the user names none (the authors' config where one exists).
DEFAULT_PRESET_BY_RESOLUTION: dict[int, str] = {32: "cifar10", 64: "celeba64", 128: "ffhq128", 256: "bedroom256"}
# The CPU-sized variant at each resolution (the presets built in the loop above).
TINY_PRESET_BY_RESOLUTION: dict[int, str] = {res: f"tiny{res}" for res in (32, 64, 128, 256)}
