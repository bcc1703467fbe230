"""The training engine: `bench.train.session.train(options)` trains every registered model under the same budget.

Read the training path in this order: `session` (`train`: run directory, lock, options.json and
env.json, resume, hooks, stop signals, summary) -> `loop` (`TrainState`, `build_state`, `snapshot` /
`restore`, `training_loop`: ticks of iterations, stats lines, snapshots, sample grids, evaluation)
-> `step` (`train_step`: the reference D and G steps with R1, bCR and AMP).

The parts they use, one job each: `options` (the typed `TrainOptions`), `resolve` (fill and check a
request), `budget` (the budget in images: --kimg or --budget-tflops), `augment` (DiffAugment), `ema`
(the G_ema average and its schedule), `ema_start` (G_ema's first weights), `sampler` (the seeded,
resumable data order), `samples` (the fixed-latent sample grid), `seeds` (one seed per random
stream, deterministic kernels), `state` (snapshot files and RNG states), `snapshots` (resume past
damaged snapshots, keep the newest K, load G_ema), `interrupt` (stop signals), `progress` (the
progress bar), `provenance` (env.json), `trackers` (TensorBoard / W&B mirrors), `lock` (one writer
per run), `distributed` (torchrun / DDP roles), `import_authors` with `tf_checkpoint` and `tf_dump`
(runs from the authors' TensorFlow checkpoints). The package imports nothing itself, so reading
`TrainOptions` (the CLI does, to build `ladabench train`) does not import torch; scripts import
the public API from `ladabench` (`from ladabench import train`).
"""
