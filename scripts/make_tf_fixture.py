"""Make the tiny TensorFlow LadaGAN checkpoints under tests/fixtures/tf_ladagan (run once, outside CI).

Needs TensorFlow 2.13 (the authors' version; Keras 2 object graph) and a checkout of the authors'
repository (milmor/LadaGAN), whose `tensorflow/model.py` builds the networks: nothing of theirs is
copied here, the script imports their module from the path you give.

    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu==2.13.1
    /tmp/tfvenv/bin/python scripts/make_tf_fixture.py --authors-dir /path/to/LadaGAN/tensorflow

Each fixture folder has the layout of one dataset folder on the Hub (`config.json`,
`best-training-checkpoints/ckpt-<images>.{index,data-00000-of-00001}`, `checkpoint`), saved with
the object graph of the authors' trainer (tensorflow/trainer.py `create_ckpt`), plus `expected/`:
fixed latents, the TF outputs of G_ema and G (inference mode, as the authors sample) and the
logits of D on the G_ema images (training mode, as the authors always call it, and inference
mode, which reads the moving statistics), as .npy in NHWC.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

# Authors' config.json keys (tensorflow/config.py); widths far below theirs so the files stay small.
FIXTURES = {
    "micro64": {  # patch mode: the last depth_to_space feeds the RGB conv
        "img_size": 64,
        "noise_dim": 16,
        "g_dim": [16, 16, 8],
        "g_heads": [2, 2, 2],
        "g_mlp": [16, 16, 16],
        "dec_dim": False,
        "d_enc_dim": [8, 8, 16],
        "d_out_dim": [16, 16],
        "d_heads": 2,
        "d_mlp": 16,
    },
    "micro128": {  # conv decoder with BatchNorm in G; three down blocks in D
        "img_size": 128,
        "noise_dim": 16,
        "g_dim": [16, 16, 8],
        "g_heads": [2, 2, 2],
        "g_mlp": [16, 16, 16],
        "dec_dim": [8, 4],
        "d_enc_dim": [4, 8, 8, 16],
        "d_out_dim": [16, 16],
        "d_heads": 2,
        "d_mlp": 16,
    },
}
# The rest of the authors' default config (tensorflow/config.py), recorded as they record it.
RECIPE = {
    "batch_size": 128,
    "g_lr": 0.0002,
    "g_beta1": 0.5,
    "g_beta2": 0.99,
    "g_initializer": "orthogonal",
    "d_initializer": "orthogonal",
    "d_lr": 0.0002,
    "d_beta1": 0.5,
    "d_beta2": 0.99,
    "gp_weight": 0.0001,
    "policy": "color,translation",
    "loss": "nsl",
    "ema_decay": 0.999,
    "bcr": False,
    "cr_weight": 0.1,
}
N_IMAGES = 3_200  # images seen at the fixture's checkpoint: 25 iterations of batch 128
N_SAMPLES = 2  # the 128-px images dominate the fixture's size


def perturb(tf, variables, rng: np.random.Generator) -> None:
    """Move every variable off its init (zero biases, unit gammas would hide layout mistakes)."""
    for var in variables:
        shape = var.shape.as_list()
        if "moving_variance" in var.name:
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = var.numpy() + rng.normal(0.0, 0.1, shape)
        var.assign(value.astype(np.float32))


def adam_step(tf, optimizer, variables) -> None:
    """One Adam update with made-up gradients, so the checkpoint holds the optimizer's slots as theirs does."""
    optimizer.apply_gradients([(tf.ones_like(v) * 1e-3, v) for v in variables])


def build_fixture(tf, model, conf: dict, out: Path, seed: int) -> None:
    """Build G, G_ema, D with the authors' classes, save the checkpoint and the expected outputs."""
    tf.random.set_seed(seed)
    rng = np.random.default_rng(seed)
    res = conf["img_size"]
    generator = model.Generator(
        img_size=res, model_dim=conf["g_dim"], heads=conf["g_heads"], mlp_dim=conf["g_mlp"], dec_dim=conf["dec_dim"]
    )
    generator(tf.zeros([1, conf["noise_dim"]]))
    discriminator = model.Discriminator(
        img_size=res, enc_dim=conf["d_enc_dim"], out_dim=conf["d_out_dim"], heads=conf["d_heads"], mlp_dim=conf["d_mlp"]
    )
    discriminator(tf.zeros([1, res, res, 3]))
    # As tensorflow/trainer.py: the EMA generator is a clone (fresh weights), built by one call.
    ema_generator = tf.keras.models.clone_model(generator)
    ema_generator(tf.zeros([1, conf["noise_dim"]]))
    g_optimizer = tf.keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.99)
    d_optimizer = tf.keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.99)
    adam_step(tf, d_optimizer, discriminator.trainable_weights)
    adam_step(tf, g_optimizer, generator.trainable_weights)
    for net in (generator, ema_generator, discriminator):
        perturb(tf, net.weights, rng)
    ckpt = tf.train.Checkpoint(
        g_optimizer=g_optimizer,
        d_optimizer=d_optimizer,
        generator=generator,
        ema_generator=ema_generator,
        discriminator=discriminator,
        n_images=tf.Variable(0),
        fid=tf.Variable(10000.0),
        best_fid=tf.Variable(10000.0),
    )
    ckpt.n_images.assign(N_IMAGES)
    manager = tf.train.CheckpointManager(ckpt, directory=str(out / "best-training-checkpoints"), max_to_keep=1)
    manager.save(N_IMAGES)
    (out / "config.json").write_text(json.dumps({**conf, **RECIPE}, indent=4) + "\n")

    expected = out / "expected"
    expected.mkdir(exist_ok=True)
    z = rng.normal(size=(N_SAMPLES, conf["noise_dim"])).astype(np.float32)
    images = ema_generator(tf.constant(z))[0].numpy()
    np.save(expected / "z.npy", z)
    np.save(expected / "g_ema.npy", images)
    np.save(expected / "g.npy", generator(tf.constant(z))[0].numpy())
    # Inference mode reads the moving statistics; first, because a training-mode call updates them.
    np.save(expected / "d_eval.npy", discriminator(tf.constant(images), training=False)[0].numpy())
    np.save(expected / "d_train.npy", discriminator(tf.constant(images), training=True)[0].numpy())


def main() -> int:
    """Parse the arguments, import the authors' model module from the given folder, write every fixture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--authors-dir", required=True, type=Path, help="the authors' tensorflow/ folder (holds model.py)"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests/fixtures/tf_ladagan")
    args = parser.parse_args()
    if not (args.authors_dir / "model.py").is_file():
        print(f"error: {args.authors_dir} has no model.py; pass the authors' tensorflow/ folder", file=sys.stderr)
        return 2
    import tensorflow as tf

    sys.path.insert(0, str(args.authors_dir))
    import model  # the authors' tensorflow/model.py, imported in place

    for seed, (name, conf) in enumerate(FIXTURES.items()):
        out = args.out / name
        out.mkdir(parents=True, exist_ok=True)
        build_fixture(tf, model, conf, out, seed)
        print(f"wrote {out} (TensorFlow {tf.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
