"""Turn an authors' TensorFlow checkpoint into a normal ladabench run directory (G, G_ema and D converted).

The run holds options.json, env.json, log.txt, one stats line and a snapshot at the checkpoint's
image count (G, D, G_ema as our training loop writes them) plus a sample grid, so `ladabench eval`,
`compare` and the reports read it like a trained run. Everything is checked before the folder is
made; a failure while writing removes it again.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ladagan
from bench.core.errors import UserError
from bench.core.records import StatsLine
from bench.core.rundir import RunDir
from bench.data.grid import save_grid
from bench.data.registry import checked_data_root, make_source
from bench.train.options import TrainOptions
from bench.train.provenance import environment_info
from bench.train.resolve import resolve_options
from bench.train.samples import fixed_latents, render_grid
from bench.train.seeds import derived_seed
from bench.train.state import save_snapshot
from bench.train.tf_checkpoint import file_digests, locate, read_config, read_variables
from ladagan.tf_config import ConfigError, architecture_from_config, config_differences
from ladagan.tf_convert import NETWORKS, ConversionError, convert_discriminator, convert_generator

MODEL = "ladagan"
# The dataset each released preset was trained on (its reference set for FID).
DATA_BY_PRESET = {"cifar10": "cifar10", "celeba64": "celeba64", "ffhq128": "ffhq128"}


def _mismatch(preset: Any, generator: Any, discriminator: Any) -> list[str]:
    """How a preset's architecture differs from the checkpoint's config."""
    return config_differences(preset.generator, generator, "generator") + config_differences(
        preset.discriminator, discriminator, "discriminator"
    )


def choose_preset(conf: dict[str, Any] | None, name: str | None, config_path: Path | None) -> Any:
    """The preset the checkpoint was trained with: `name` (checked against the config), else the one matching it."""
    presets = ladagan.PRESETS
    if name is not None and name not in presets:
        raise UserError(f"preset '{name}' is unknown; known: {', '.join(presets)}")
    if conf is None:
        if name is None:
            raise UserError("no config.json beside the checkpoint; pass --preset NAME (e.g. --preset cifar10)")
        return presets[name]
    try:
        generator, discriminator = architecture_from_config(conf)
    except ConfigError as exc:
        raise UserError(f"{config_path}: {exc}") from None
    if name is not None:
        diffs = _mismatch(presets[name], generator, discriminator)
        if diffs:
            raise UserError(f"checkpoint config {config_path} does not match preset '{name}': {'; '.join(diffs[:3])}")
        return presets[name]
    matches = [p for p in presets.values() if not _mismatch(p, generator, discriminator)]
    if matches:
        return matches[0]
    same_res = [p for p in presets.values() if p.resolution == generator.img_size] or list(presets.values())
    closest = min(same_res, key=lambda p: len(_mismatch(p, generator, discriminator)))
    diffs = _mismatch(closest, generator, discriminator)
    raise UserError(
        f"config {config_path} matches no ladagan preset; the closest, '{closest.name}', differs in "
        f"{'; '.join(diffs[:3])}"
    )


def convert_all(variables: dict[str, Any], preset: Any, prefix: Path) -> dict[str, dict]:
    """G, G_ema and D state dicts from the checkpoint variables, or a UserError listing the first mismatches."""
    G, D = ladagan.build(preset, init=False)
    try:
        return {
            "G": convert_generator(variables, NETWORKS["G"], preset.generator, G),
            "G_ema": convert_generator(variables, NETWORKS["G_ema"], preset.generator, G),
            "D": convert_discriminator(variables, preset.discriminator, D),
        }
    except ConversionError as exc:
        raise UserError(f"checkpoint {prefix} does not fit preset '{preset.name}': {exc}") from None


def images_seen(variables: dict[str, Any], prefix: Path) -> int:
    """Images seen at the checkpoint: its `n_images` variable, else the number in `ckpt-N`."""
    value = variables.get("n_images/.ATTRIBUTES/VARIABLE_VALUE")
    if value is not None and int(value) > 0:
        return int(value)
    tail = prefix.name.rpartition("-")[2]
    if tail.isdigit():
        return int(tail)
    raise UserError(
        f"checkpoint {prefix} records no image count (no n_images, no ckpt-N name); rename it ckpt-<images>"
    )


def _request(
    conf: dict[str, Any] | None, preset: Any, data: str, data_root: str | None, n_images: int, out_dir: Path
) -> dict[str, Any]:
    """The options request for the imported run: the authors' recipe from config.json where it has one."""
    conf = conf or {}
    betas = (conf["g_beta1"], conf["g_beta2"]) if {"g_beta1", "g_beta2"} <= conf.keys() else None
    return {
        "model": MODEL,
        "preset": preset.name,
        "data": data,
        "data_root": data_root,
        "total_kimg": n_images / 1000,
        "batch_size": conf.get("batch_size"),
        "lr_g": conf.get("g_lr"),
        "lr_d": conf.get("d_lr"),
        "betas": betas,
        "r1_gamma": conf.get("gp_weight"),
        "ema_decay": conf.get("ema_decay"),
        "augment": conf.get("policy"),
        "bcr": conf.get("bcr"),
        "cr_weight": conf.get("cr_weight"),
        "device": "cpu",
        "out": str(out_dir),
    }


def _checked_data(data: str | None, preset: Any) -> str:
    """The dataset the run is evaluated against: --data, else the preset's own dataset."""
    data = data or DATA_BY_PRESET.get(preset.name)
    if data is None:
        raise UserError(f"preset '{preset.name}' has no default dataset; pass --data NAME (the data it was trained on)")
    make_source(data)  # an unknown name fails here, before anything is written
    return data


def import_authors(
    source: Path,
    out_dir: Path,
    preset_name: str | None = None,
    data: str | None = None,
    data_root: str | None = None,
    log: Callable[[str], None] = lambda msg: None,
) -> RunDir:
    """Import the checkpoint at `source` into a new run under `out_dir`; returns the run directory."""
    checked_data_root(data_root)  # before the checkpoint is read
    files = locate(source)
    conf = read_config(files.config) if files.config else None
    preset = choose_preset(conf, preset_name, files.config)
    data = _checked_data(data, preset)
    log(f"reading {files.prefix} ({sum(p.stat().st_size for p in files.files) / 1e6:.1f} MB) as preset '{preset.name}'")
    variables, tf_version = read_variables(files, keep=(*[f"{n}/" for n in NETWORKS.values()], "n_images/"))
    states = convert_all(variables, preset, files.prefix)
    n_images = images_seen(variables, files.prefix)
    options = resolve_options(_request(conf, preset, data, data_root, n_images, out_dir), preset.resolution)
    sources = [*files.files, *([files.config] if files.config else [])]
    provenance = {
        "kind": "authors-tensorflow",
        "checkpoint": str(files.prefix.resolve()),
        "images_seen": n_images,
        "files": file_digests(sources),
        "config": conf,
        "tensorflow": tf_version,
    }
    return _write_run(out_dir, options, states, n_images, provenance)


def _write_run(
    out_dir: Path, options: TrainOptions, states: dict[str, dict], n_images: int, provenance: dict
) -> RunDir:
    """Create the run folder and write its files; on any failure remove the folder (nothing half-written)."""
    run = RunDir.create(Path(out_dir), options.model, options.data, options.preset, options.total_kimg, options.seed)
    try:
        run.write_options(options.to_json())
        run.write_env(environment_info("cpu", {"imported_from": provenance}))
        steps = n_images // int(options.batch_size)
        save_snapshot(
            run.snapshot_path(n_images),
            {
                **states,
                "images_seen": n_images,
                "step": steps,
                "tick": 0,
                "wall_seconds": None,
                "options": options.to_json(),
                "imported_from": provenance,
            },
        )
        G_ema, _ = ladagan.build(ladagan.PRESETS[options.preset], init=False)
        G_ema.load_state_dict(states["G_ema"])
        # The grid the training loop draws for this seed (stream 3), so grids of runs line up.
        save_grid(
            run.samples_path(n_images),
            render_grid(G_ema, fixed_latents(G_ema.z_dim, derived_seed(options.seed, 3)), "cpu"),
        )
        run.append_stats(StatsLine(tick=0, step=steps, images_seen=n_images, kimg=n_images / 1000, imported=True))
        run.log(
            f"imported {provenance['checkpoint']} at {n_images} images (TensorFlow {provenance['tensorflow']}); "
            "G, G_ema and D converted"
        )
    except BaseException:
        shutil.rmtree(run.path, ignore_errors=True)
        raise
    return run
