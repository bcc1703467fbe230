"""The training engine: `bench.train.session.train(options)` trains every registered model under the same budget.

Modules, one job each: `options` (the typed `TrainOptions`), `resolve` (fill and check a request),
`session` (`train`: run directory, lock, resume, summary), `loop` (the loop with progress, ticks,
snapshots), `step` (the reference D and G steps with R1), `augment` (DiffAugment), `ema` (the G_ema
average), `sampler` (seeded batches), `state` (snapshot files and RNG states), `snapshots` (resume
past damaged snapshots, keep the newest K, load G_ema), `provenance` (env.json), `lock` (one writer
per run), `distributed` (torchrun / DDP roles). The package imports nothing itself, so reading
`TrainOptions` (the CLI does, to build `ladabench train`) does not import torch.
"""
