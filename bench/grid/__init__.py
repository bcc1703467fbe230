"""The benchmark grid layer: protocols, plans of cells, the cell job, executors (debug, local, SLURM) and status.

protocol.py  the named grids (quick, ablations): models, budget, evaluation, shared training recipe
plan.py      a plan's cells (model x seed, resolved options as JSON) and the checks before any work
cell.py      one cell as an idempotent, requeueable job (train or resume, evaluate, record its state)
executors.py where cells run: this process, local worker processes, one SLURM job array (submitit)
status.py    each cell's state from the runs folder, its lock and record, and squeue (read-only)
run.py       a plan end to end: skip what is done, dispatch, follow, profile
"""
