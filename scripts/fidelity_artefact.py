"""Measurements behind LadaGAN's bright top row (issue #27), from the snapshots of scripts/fidelity_runs.py.

    python scripts/fidelity_artefact.py --runs runs/fidelity

For the final snapshot of every run (ours and the authors' TF trainer, imported) it measures:
- where G's output is bright: the mean uint8 value of row 0, row 1, the last row, column 0, the last
  column and the interior over 250 images (raw G), as in results.jsonl;
- how strongly D looks at each row and column: the mean |d sum(D(aug(x))) / dx| per row and per
  column over the same fakes, D in training mode (batch statistics, as in training), averaged over
  16 DiffAugment draws, and without augmentation; relative to the interior mean;
- what in G draws the row (counterfactuals, no retraining): the final 3x3 RGB conv applied with
  replicate padding instead of its zero padding ('same', as the authors' Conv2D); the RGB conv's
  input with its row 0 replaced by its row 1 (is anything upstream special at row 0?); the position
  embedding of the 32x32 stage with its row-0 entries replaced by its row-1 entries;
- whether D objects to the row: D's mean logit (training mode, 16 DiffAugment draws, the same draws
  for both variants) on the fakes as they are and with row 0 set to black (-1, as every training
  image), and on 64 training images as they are and with row 0 set to mid-gray (0, the fill value of
  DiffAugment's translation);
- the mean contribution of each kernel row (top, middle, bottom) and column (left, middle, right)
  of that RGB conv, in [-1, 1] units: a zero-padded edge misses the tap that would read outside.
Writes `artefact.json` into the runs folder (numbers plus the Markdown section of the report).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
N_IMAGES = 250
AUG_DRAWS = 16
BRIGHT_EDGE_UINT8 = 30  # an edge this much brighter than its replicate-padded counterfactual counts as an artefact
EDGE_NAMES = {"row0": "first row", "row_last": "last row", "col0": "first column", "col_last": "last column"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "fidelity", help="folder of fidelity_runs.py")
    return parser.parse_args(argv)


def edges(values: np.ndarray) -> dict[str, float]:
    """Row 0, row 1, last row, column 0, last column and interior of a (H, W) map."""
    interior = values[2:-2, 2:-2].mean()
    return {
        "row0": float(values[0].mean()),
        "row1": float(values[1].mean()),
        "row_last": float(values[-1].mean()),
        "col0": float(values[:, 0].mean()),
        "col_last": float(values[:, -1].mean()),
        "interior": float(interior),
    }


def image_map(images: torch.Tensor) -> np.ndarray:
    """Mean uint8 value per pixel (H, W) of generator outputs in [-1, 1] (quantised as the metrics do)."""
    pixels = (images * 127.5 + 128).clamp(0, 255).round()
    return pixels.mean(dim=(0, 1)).numpy()


def d_sensitivity(D: torch.nn.Module, fakes: torch.Tensor, policy: str, seed: int) -> np.ndarray:
    """Mean |gradient of sum(D(aug(x)))| per pixel of x (H, W), over AUG_DRAWS augmentations (or none)."""
    from bench.train.augment import diff_augment

    D.train()
    total = torch.zeros(fakes.shape[-2:])
    draws = AUG_DRAWS if policy else 1
    gen = torch.Generator().manual_seed(seed)
    for _ in range(draws):
        x = fakes.clone().requires_grad_(True)
        logits = D(diff_augment(x, policy, gen) if policy else x)
        (grad,) = torch.autograd.grad(logits.sum(), x)
        total += grad.abs().mean(dim=(0, 1))
    return (total / draws).numpy()


def rgb_features(G: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """The feature map (B, C, 32, 32) that G's final RGB conv reads (patch mode at 32 px)."""
    captured = {}
    handle = G.to_rgb.register_forward_hook(lambda mod, inputs, out: captured.setdefault("x", inputs[0]))
    try:
        G(z)
    finally:
        handle.remove()
    return captured["x"]


@torch.no_grad()
def replicate_padded_rgb(conv: torch.nn.Conv2d, features: torch.Tensor) -> torch.Tensor:
    """The RGB conv with its zero padding replaced by replicate padding (what the edges would be without it)."""
    padded = torch.nn.functional.pad(features, (1, 1, 1, 1), mode="replicate")
    return torch.nn.functional.conv2d(padded, conv.weight, conv.bias)


@torch.no_grad()
def tap_contributions(conv: torch.nn.Conv2d, features: torch.Tensor) -> dict[str, list[float]]:
    """Mean output (over images, channels, interior pixels) that each kernel row and each kernel column adds."""
    weight = conv.weight
    rows, cols = [], []
    for k in range(3):
        only_row = torch.zeros_like(weight)
        only_row[:, :, k, :] = weight[:, :, k, :]
        only_col = torch.zeros_like(weight)
        only_col[:, :, :, k] = weight[:, :, :, k]
        rows.append(float(torch.nn.functional.conv2d(features, only_row, padding=1)[..., 2:-2, 2:-2].mean()))
        cols.append(float(torch.nn.functional.conv2d(features, only_col, padding=1)[..., 2:-2, 2:-2].mean()))
    return {"kernel_rows": rows, "kernel_cols": cols}


@torch.no_grad()
def d_mean_logit(D: torch.nn.Module, images: torch.Tensor, seed: int) -> float:
    """D's mean logit over AUG_DRAWS DiffAugment draws (training mode, as in training), seeded."""
    from bench.train.augment import diff_augment

    D.train()
    gen = torch.Generator().manual_seed(seed)
    return float(np.mean([D(diff_augment(images, "color,translation", gen)).mean().item() for _ in range(AUG_DRAWS)]))


def with_row0(images: torch.Tensor, value: float) -> torch.Tensor:
    """A copy of the images with their first row set to `value`."""
    out = images.clone()
    out[:, :, 0, :] = value
    return out


def analyse(snapshot: Path) -> dict:
    """The three measurements for one snapshot."""
    import ladagan
    from bench.metrics.generate import latents
    from bench.train.state import load_snapshot

    preset = ladagan.PRESETS["tiny32"]
    state = load_snapshot(snapshot)
    G, D = ladagan.build(preset, init=False)
    G.load_state_dict(state["G"])
    D.load_state_dict(state["D"])
    G.eval()
    z = latents(0, 0, N_IMAGES, G.z_dim)
    with torch.no_grad():
        fakes = G(z)
        base = edges(image_map(fakes))
        features = rgb_features(G, z)
        replicate = edges(image_map(replicate_padded_rgb(G.to_rgb, features)))
        same_rows = features.clone()
        same_rows[:, :, 0] = features[:, :, 1]  # what the RGB conv reads at row 0 made equal to row 1
        features_swapped = edges(image_map(G.to_rgb(same_rows)))
        taps = tap_contributions(G.to_rgb, features)
        saved = G.pos_32.weight.detach().clone()
        G.pos_32.weight[:32] = saved[32:64]  # row 0 of the 32x32 token grid gets row 1's embedding
        swapped = edges(image_map(G(z)))
        G.pos_32.weight.copy_(saved)
    reals = training_images(64)
    logits = {
        "fakes": d_mean_logit(D, fakes[:64], seed=1),
        "fakes_row0_black": d_mean_logit(D, with_row0(fakes[:64], -1.0), seed=1),
        "reals": d_mean_logit(D, reals, seed=2),
        "reals_row0_gray": d_mean_logit(D, with_row0(reals, 0.0), seed=2),
    }
    with_aug = d_sensitivity(D, fakes[:64], "color,translation", seed=0)
    no_aug = d_sensitivity(D, fakes[:64], "", seed=0)
    relative = {
        "d_grad_aug": {k: v / edges(with_aug)["interior"] for k, v in edges(with_aug).items()},
        "d_grad_noaug": {k: v / edges(no_aug)["interior"] for k, v in edges(no_aug).items()},
    }
    return {
        "snapshot": str(snapshot),
        "G_edges": base,
        "G_edges_rgb_replicate_pad": replicate,
        "G_edges_pos_row0_from_row1": swapped,
        "G_edges_features_row0_from_row1": features_swapped,
        **taps,
        "d_logits": logits,
        **relative,
    }


def training_images(count: int) -> torch.Tensor:
    """The first `count` fashion10k images in [-1, 1], NCHW."""
    from bench.data import load_dataset

    images = torch.from_numpy(np.array(load_dataset("fashion10k").images[:count])).float()
    return images.permute(0, 3, 1, 2) / 127.5 - 1.0


def final_snapshots(runs: Path) -> list[tuple[str, int, Path]]:
    """(trainer, seed, newest snapshot) of every run in the folder."""
    from bench.core.rundir import RunDir, snapshot_kimg

    found = []
    for folder in sorted(runs.glob("*-seed*")):
        if not folder.is_dir():
            continue
        trainer, seed = folder.name.split("-seed")
        pattern = "*-ladagan-*" if trainer == "torch" else "imported/*-ladagan-*"
        snaps = [s for run in sorted(folder.glob(pattern)) for s in RunDir(run).snapshots()]
        if snaps:
            found.append((trainer, int(seed), max(snaps, key=lambda p: float(snapshot_kimg(p)))))
    return found


def markdown(rows: list[dict]) -> list[str]:
    """The report's measured lines: one table row per run."""
    lines = [
        "| run | kimg | raw G: row 0 / row 1 / last row / col 0 / last col / interior (uint8) | same with the RGB "
        "conv replicate-padded | row 0 with the RGB conv's input row 0 := row 1 / with row-1 position embedding | "
        "RGB kernel rows top / mid / bottom "
        "(mean contribution) | kernel cols left / mid / right | D grad row 0 / col 0 / last row / last col "
        "vs interior (augmented; not augmented) | D logit: fakes / fakes, row 0 black / reals / reals, row 0 "
        "gray |",
        "|---|---:|---|---|---:|---|---|---|---|",
    ]

    def six(e: dict) -> str:
        return " / ".join(f"{e[k]:.0f}" for k in ("row0", "row1", "row_last", "col0", "col_last", "interior"))

    for r in rows:
        a, n = r["d_grad_aug"], r["d_grad_noaug"]
        grads = " / ".join(f"{a[k]:.2f}" for k in ("row0", "col0", "row_last", "col_last"))
        grads_plain = " / ".join(f"{n[k]:.2f}" for k in ("row0", "col0", "row_last", "col_last"))
        lines.append(
            f"| {r['trainer']} seed {r['seed']} | {r['kimg']:g} | {six(r['G_edges'])} | "
            f"{six(r['G_edges_rgb_replicate_pad'])} | {r['G_edges_features_row0_from_row1']['row0']:.0f} / "
            f"{r['G_edges_pos_row0_from_row1']['row0']:.0f} | "
            f"{' / '.join(f'{v:+.2f}' for v in r['kernel_rows'])} | "
            f"{' / '.join(f'{v:+.2f}' for v in r['kernel_cols'])} | {grads}; {grads_plain} | "
            f"{' / '.join(f'{v:+.2f}' for v in r['d_logits'].values())} |"
        )
    bright = []
    for r in rows:
        excess = {k: r["G_edges"][k] - r["G_edges_rgb_replicate_pad"][k] for k in EDGE_NAMES}
        edge, value = max(excess.items(), key=lambda kv: kv[1])
        if value > BRIGHT_EDGE_UINT8:
            bright.append(f"{r['trainer']} seed {r['seed']}: {EDGE_NAMES[edge]} +{value:.0f}")
    lines += [
        "",
        f"Edges brighter than with a replicate-padded RGB conv by more than {BRIGHT_EDGE_UINT8} uint8 levels "
        f"(raw G, final snapshot): {len(bright)} of {len(rows)} runs" + (f" ({'; '.join(bright)})." if bright else "."),
    ]
    return lines


def main(argv: list[str] | None = None) -> None:
    """Analyse every run's final snapshot and write artefact.json."""
    from bench.core.rundir import snapshot_kimg

    args = parse_args(argv)
    torch.manual_seed(0)
    rows = []
    for trainer, seed, snapshot in final_snapshots(args.runs):
        row = {"trainer": trainer, "seed": seed, "kimg": float(snapshot_kimg(snapshot)), **analyse(snapshot)}
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("trainer", "seed", "kimg", "G_edges", "d_grad_aug")}), flush=True)
    out = {"rows": rows, "markdown": markdown(rows)}
    (args.runs / "artefact.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
