"""The training engine: one loop that trains every registered model under the same budget.

Modules, one job each: `options` (resolve and compare the run configuration), `augment`
(DiffAugment), `step` (the reference D and G steps with R1), `ema` (the G_ema average), `sampler`
(seeded batches from a prepared dataset), `state` (snapshots and RNG states), `rundir` (the run
directory and `load_generator`), `snapshots` (resume past damaged snapshots, keep the newest K),
`lock` (one writer per run), `distributed` (torchrun / DDP roles), `loop` (the loop with
progress, ticks, snapshots).
"""
