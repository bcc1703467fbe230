"""Train LadaGAN with the authors' own TensorFlow trainer (milmor/LadaGAN `tensorflow/`) as a reference run.

Nothing of theirs is copied here and nothing is fetched: the script imports `model.py`, `trainer.py`,
`diffaug.py` and `utils.py` from the folder you pass (their `tensorflow/` folder at eb3ed9c) and
drives their `LadaGAN.train_step` (D step, then G step, EMA of every G weight, all under
`@tf.function(jit_compile=True)`) exactly as their `train.py` does. It needs TensorFlow 2.13 (Keras
2: their `diffaug.py` imports `tensorflow.keras.layers.experimental`), e.g.

    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu==2.13.1 tqdm pillow scipy huggingface_hub
    /tmp/tfvenv/bin/python scripts/authors_trainer.py --authors-dir /path/to/LadaGAN/tensorflow \\
        --out runs/fidelity/tf-seed0 --seed 0 --kimg 16 --snapshot-kimg 4 --batch 16 --lr 1e-3

What differs from their `train.py`, and why: the images come from a uint8 array (default: the
embedded fashion10k asset of this repository, 32 px, gray replicated to RGB) instead of JPEG files,
scaled as their `train_convert` does ((x - 127.5) / 127.5; their bilinear resize to the same size
is the identity) and shuffled over the full set each epoch with `drop_remainder`, as their
`create_train_iter_ds`; their in-training FID (Keras InceptionV3 weights, a download) is not run,
so a checkpoint is written at every `--snapshot-kimg` instead of at the best FID. Checkpoints use
their own `tf.train.Checkpoint` object graph (`create_ckpt`), with `config.json` beside them, so
`ladabench import authors OUT/training-checkpoints/ckpt-N --data fashion10k` reads them.
The architecture is the suite's `tiny32` preset written in their config keys (ARCHITECTURE below).

A run is resumable: started again with the same arguments it restores the newest checkpoint and
continues to --kimg (the random streams then restart from the seed, so a resumed run is not
bitwise the uninterrupted one). `stats.jsonl` gets one line per checkpoint: images seen, wall
seconds of training (XLA compilation of the first step counted apart), images per second.
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
EMBEDDED_IMAGES = REPO / "bench" / "assets" / "fashion10k" / "fashion10k.npy.xz"
# The suite's tiny32 preset (ladagan/presets.py) in the authors' config.json keys.
ARCHITECTURE = {
    "img_size": 32,
    "noise_dim": 128,
    "g_dim": [128, 64, 32],
    "g_heads": [2, 2, 2],
    "g_mlp": [128, 128, 128],
    "dec_dim": False,
    "d_enc_dim": [32, 64],
    "d_out_dim": [64, 128],
    "d_heads": 2,
    "d_mlp": 128,
}
# The rest of their tensorflow/config.py; batch size and learning rates come from the command line.
RECIPE = {
    "g_beta1": 0.5,
    "g_beta2": 0.99,
    "g_initializer": "orthogonal",
    "d_initializer": "orthogonal",
    "d_beta1": 0.5,
    "d_beta2": 0.99,
    "gp_weight": 0.0001,
    "policy": "color,translation",
    "loss": "nsl",
    "ema_decay": 0.999,
    "bcr": False,
    "cr_weight": 0.1,
}
CHECKPOINTS = "training-checkpoints"


class Conf:
    """Attribute access to a config dict, as their utils.Config gives their trainer."""

    def __init__(self, values: dict) -> None:
        """Copy the keys into attributes."""
        self.__dict__.update(values)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors-dir", type=Path, required=True, help="their tensorflow/ folder (model.py ...)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (config.json, checkpoints, stats)")
    parser.add_argument("--images", type=Path, default=EMBEDDED_IMAGES, help="uint8 .npy or .npy.xz (N,32,32[,3])")
    parser.add_argument("--seed", type=int, default=0, help="tf.random.set_seed (weights, latents, augmentation)")
    parser.add_argument("--batch", type=int, default=16, help="batch size of the D and G steps")
    parser.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate of G and D (theirs: 2e-4)")
    parser.add_argument("--kimg", type=float, required=True, help="budget in thousands of real images")
    parser.add_argument("--snapshot-kimg", type=float, default=4.0, help="checkpoint interval in kimg")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra- and inter-op threads")
    return parser.parse_args(argv)


def fail(message: str) -> None:
    """One line on stderr and a non-zero exit (bad input)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def load_images(path: Path) -> np.ndarray:
    """uint8 (N, R, R, 3) from a .npy or xz-compressed .npy file (gray (N, R, R) is replicated to RGB)."""
    if not path.is_file():
        fail(f"--images {path} does not exist; pass a uint8 .npy or .npy.xz file of (N, 32, 32[, 3]) images")
    raw = path.read_bytes()
    images = np.load(io.BytesIO(lzma.decompress(raw) if path.name.endswith(".xz") else raw), allow_pickle=False)
    if images.dtype != np.uint8 or images.shape[1:] not in ((32, 32), (32, 32, 3)):
        fail(f"--images {path} holds {images.dtype} {images.shape}, not uint8 (N, 32, 32[, 3])")
    return np.repeat(images[..., None], 3, axis=-1) if images.ndim == 3 else images


def check_authors_dir(folder: Path) -> None:
    """Refuse a folder that is not their tensorflow/ folder."""
    missing = [name for name in ("model.py", "trainer.py", "diffaug.py", "utils.py") if not (folder / name).is_file()]
    if missing:
        fail(
            f"--authors-dir {folder} has no {', '.join(missing)}; pass the tensorflow/ folder of a "
            "milmor/LadaGAN checkout (commit eb3ed9c)"
        )


def make_dataset(tf, images: np.ndarray, batch: int, seed: int):
    """Their create_train_iter_ds on an array: full-buffer shuffle each epoch, [-1, 1] scaling, whole batches."""
    ds = tf.data.Dataset.from_tensor_slices(images)
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda img: (tf.cast(img, tf.float32) - 127.5) / 127.5)
    return iter(ds.batch(batch, drop_remainder=True).repeat())


def build_gan(tf, modules: dict, conf: Conf):
    """Their G, D and LadaGAN trainer with Adam, as their train.py builds them (G_ema a fresh clone_model)."""
    generator = modules["model"].Generator(
        img_size=conf.img_size, model_dim=conf.g_dim, heads=conf.g_heads, mlp_dim=conf.g_mlp, dec_dim=conf.dec_dim
    )
    generator(tf.random.normal([conf.batch_size, conf.noise_dim]))
    discriminator = modules["model"].Discriminator(
        img_size=conf.img_size,
        enc_dim=conf.d_enc_dim,
        out_dim=conf.d_out_dim,
        heads=conf.d_heads,
        mlp_dim=conf.d_mlp,
        initializer=conf.d_initializer,
    )
    discriminator(tf.ones([conf.batch_size, conf.img_size, conf.img_size, 3]))
    gan = modules["trainer"].LadaGAN(generator=generator, discriminator=discriminator, conf=conf)
    g_loss, d_loss = modules["utils"].get_loss(conf.loss)
    gan.build(
        g_optimizer=tf.keras.optimizers.Adam(learning_rate=conf.g_lr, beta_1=conf.g_beta1, beta_2=conf.g_beta2),
        d_optimizer=tf.keras.optimizers.Adam(learning_rate=conf.d_lr, beta_1=conf.d_beta1, beta_2=conf.d_beta2),
        g_loss=g_loss,
        d_loss=d_loss,
    )
    return gan


def main(argv: list[str] | None = None) -> None:
    """Train (or resume) to --kimg, writing a checkpoint every --snapshot-kimg."""
    args = parse_args(argv)
    check_authors_dir(args.authors_dir)
    if args.kimg <= 0 or args.snapshot_kimg <= 0 or args.batch <= 0:
        fail("--kimg, --snapshot-kimg and --batch must be positive")
    images = load_images(args.images)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(args.authors_dir.resolve()))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    modules = {name: __import__(name) for name in ("model", "trainer", "utils")}

    values = {**ARCHITECTURE, **RECIPE, "batch_size": args.batch, "g_lr": args.lr, "d_lr": args.lr}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(values, indent=2) + "\n")
    (args.out / "command.json").write_text(json.dumps({"argv": sys.argv, "tensorflow": tf.__version__}) + "\n")
    tf.random.set_seed(args.seed)
    np.random.seed(args.seed)
    conf = Conf(values)
    gan = build_gan(tf, modules, conf)
    # Their create_ckpt; its second manager ('best') is unused without their FID.
    gan.create_ckpt(str(args.out), max_ckpt_to_keep=None, restore_best=False)
    train_iter = make_dataset(tf, images, args.batch, args.seed)

    total_steps = int(round(args.kimg * 1000 / args.batch))
    snapshot_steps = max(1, int(round(args.snapshot_kimg * 1000 / args.batch)))
    step = int(gan.ckpt.n_images) // args.batch
    stats_path = args.out / "stats.jsonl"
    wall_s, compile_s, timed_steps = 0.0, None, 0  # this session's (a resumed run starts them again)
    while step < total_steps:
        started = time.perf_counter()
        gan.train_step(train_iter.get_next())
        step += 1
        elapsed = time.perf_counter() - started
        if compile_s is None:  # the first call traces and XLA-compiles train_step
            compile_s = elapsed
        else:
            wall_s += elapsed
            timed_steps += 1
        if step % snapshot_steps == 0 or step == total_steps:
            n_images = step * args.batch
            gan.ckpt.n_images.assign(n_images)
            gan.ckpt_manager.save(n_images)
            line = {
                "images_seen": n_images,
                "kimg": n_images / 1000,
                "train_wall_s": round(wall_s, 3),
                "compile_s": round(compile_s, 3),
                "img_per_sec": round(timed_steps * args.batch / wall_s, 2) if wall_s > 0 else None,
                "g_loss": float(gan.train_metrics["g_loss"].result()),
                "d_loss": float(gan.train_metrics["d_loss"].result()),
                "gp": float(gan.train_metrics["gp"].result()),
            }
            modules["trainer"].reset_metrics(gan.train_metrics)
            with open(stats_path, "a") as fh:
                fh.write(json.dumps(line) + "\n")
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
