"""Seaborn figures for reports (Agg backend, PNG written atomically next to the report)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # reports are rendered headless (CI, servers); never open a window

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from bench.core.files import atomic_write_bytes  # noqa: E402

DPI = 120


def _save(fig: plt.Figure, path: Path) -> Path:
    """Write a figure as PNG atomically."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _figure(width: float = 6.4, height: float = 4.2, ncols: int = 1):
    """A new figure in the report style."""
    sns.set_theme(style="whitegrid", context="notebook")
    return plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)


def fid_vs_kimg(curves: pd.DataFrame, metric_label: str, path: Path) -> Path:
    """Anytime curves: metric vs kimg, mean line per model with a band of one std over training seeds."""
    fig, axes = _figure()
    ax = axes[0, 0]
    sns.lineplot(data=curves, x="kimg", y="value", hue="model", errorbar="sd", marker="o", ax=ax)
    ax.set(
        xlabel="real images shown to D (kimg)",
        ylabel=f"{metric_label} (lower is better)",
        title=f"{metric_label} vs training budget (band: ±1 std over seeds)",
    )
    ax.legend(title="model")
    return _save(fig, path)


def learning_curves(curves: pd.DataFrame, path: Path) -> Path:
    """One row per metric: value vs kimg and vs cumulative training TFLOPs, mean line and ±1 std band over seeds."""
    metrics, models = list(dict.fromkeys(curves["metric"])), list(dict.fromkeys(curves["model"]))
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(len(metrics), 2, figsize=(12.8, 4.2 * len(metrics)), squeeze=False)
    for row, metric in enumerate(metrics):
        data = curves[curves["metric"] == metric]
        unit = "KID x10^3" if str(data["kind"].iloc[0]) == "kid" else "FID"
        for col, (x, label) in enumerate(
            (("kimg", "real images shown to D (kimg)"), ("train_tflops", "cumulative training compute (TFLOPs)"))
        ):
            ax = axes[row, col]
            points = data.dropna(subset=[x])
            if points.empty:  # no FLOPs count for these runs (no profile rows, no FLOPs budget)
                ax.set_axis_off()
                continue
            sns.lineplot(data=points, x=x, y="value", hue="model", hue_order=models, errorbar="sd", marker="o", ax=ax)
            ax.set(xlabel=label, ylabel=f"{unit} (lower is better)", title=f"{metric} (band: ±1 std over seeds)")
            ax.legend(title="model", fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


def fid_vs_hours(curves: pd.DataFrame, metric_label: str, hours_label: str, path: Path) -> Path:
    """Metric vs training wall-clock hours, one line per run (seeds drawn separately: their clocks differ)."""
    fig, axes = _figure()
    ax = axes[0, 0]
    data = curves.assign(hours=curves["wall_s"] / 3600)
    sns.lineplot(data=data, x="hours", y="value", hue="model", units="seed", estimator=None, marker="o", ax=ax)
    ax.set(
        xlabel=f"training wall-clock ({hours_label})",
        ylabel=f"{metric_label} (lower is better)",
        title=f"{metric_label} vs training time",
    )
    ax.legend(title="model")
    return _save(fig, path)


def fid_vs_macs(table: pd.DataFrame, metric_label: str, path: Path) -> Path:
    """Final metric vs G multiply-adds per image; marker area = G params; the Pareto front as a step line."""
    fig, axes = _figure()
    ax = axes[0, 0]
    data = table.assign(
        g_mmacs=table["g_macs_per_image_mean"] / 1e6, **{"G params (M)": (table["params_g_mean"] / 1e6).round(2)}
    )
    sns.scatterplot(data=data, x="g_mmacs", y="value_mean", hue="model", size="G params (M)", sizes=(60, 400), ax=ax)
    ax.errorbar(
        data["g_mmacs"], data["value_mean"], yerr=data["value_std"].fillna(0), fmt="none", ecolor="grey", zorder=0
    )
    front = data.sort_values("g_mmacs")
    front = front[front["value_mean"] <= front["value_mean"].cummin()]
    ax.step(
        front["g_mmacs"],
        front["value_mean"],
        where="post",
        color="black",
        linestyle="--",
        linewidth=1,
        label="Pareto front",
    )
    ax.set(
        xlabel="G multiply-adds per image (MMACs)",
        ylabel=f"final {metric_label} (lower is better)",
        title=f"{metric_label} vs generator cost (marker size: G params, M)",
    )
    ax.legend(fontsize="small", loc="best")
    return _save(fig, path)


def speed_vs_resolution(profile: pd.DataFrame, path: Path) -> Path:
    """Training img/s and peak training memory vs resolution, one line per model (from profile rows)."""
    fig, axes = _figure(ncols=2)
    mem_key = (
        "train_peak_alloc_bytes"
        if profile.get("train_peak_alloc_bytes") is not None and profile["train_peak_alloc_bytes"].notna().any()
        else "train_peak_rss_bytes"
    )
    data = profile.assign(mem_mib=profile[mem_key] / 2**20)
    device = ", ".join(sorted(str(d) for d in profile.get("device", pd.Series(["?"])).dropna().unique()))
    sns.lineplot(
        data=data, x="resolution", y="train_img_per_sec", hue="model", style="preset", marker="o", ax=axes[0, 0]
    )
    axes[0, 0].set(
        xlabel="resolution (px)", ylabel="training throughput (real img/s)", title=f"training speed ({device})"
    )
    axes[0, 0].set_yscale("log")
    sns.lineplot(
        data=data, x="resolution", y="mem_mib", hue="model", style="preset", marker="o", ax=axes[0, 1], legend=False
    )
    label = "peak allocated" if mem_key.endswith("alloc_bytes") else "peak process RSS"
    axes[0, 1].set(
        xlabel="resolution (px)", ylabel=f"{label} memory in training (MiB)", title=f"training memory ({device})"
    )
    for ax in axes[0]:
        ax.set_xticks(sorted(data["resolution"].unique()))
    axes[0, 0].legend(fontsize="small")
    return _save(fig, path)


def attention_scaling(rows: pd.DataFrame, path: Path) -> Path:
    """One attention layer's forward+backward time and memory vs token count (log-log), one line per kind."""
    fig, axes = _figure(ncols=2)
    mem_key = "fwd_bwd_mem_increase_bytes"
    data = rows.assign(mem_mib=rows[mem_key] / 2**20)
    first = rows.iloc[0]
    where = f"width {first.get('dim')}, batch {first.get('batch')}, {first.get('device')}"
    sns.lineplot(data=data, x="tokens", y="fwd_bwd_ms_median", hue="layer", marker="o", ax=axes[0, 0])
    axes[0, 0].set(
        xscale="log",
        yscale="log",
        xlabel="tokens (square map)",
        ylabel="forward+backward time (ms, median)",
        title=f"attention time ({where})",
    )
    if str(first.get("device", "cpu")).startswith("cuda"):
        sns.lineplot(data=data, x="tokens", y="mem_mib", hue="layer", marker="o", ax=axes[0, 1])
        axes[0, 1].set(
            xscale="log",
            xlabel="tokens (square map)",
            ylabel="peak CUDA memory increase, fwd+bwd (MiB)",
            title="attention memory",
        )
    else:  # process RSS cannot resolve one small layer's buffers: saying so beats plotting noise
        sns.lineplot(data=data, x="tokens", y="macs_per_image", hue="layer", marker="o", ax=axes[0, 1])
        axes[0, 1].set(
            xscale="log",
            yscale="log",
            xlabel="tokens (square map)",
            ylabel="multiply-adds per image (MACs)",
            title="attention cost (memory is measured on CUDA only)",
        )
    return _save(fig, path)
