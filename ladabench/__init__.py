"""ladabench's public API for scripts: `from ladabench import train, TrainOptions, RunDir`.

Each name is loaded from its module on first use (PEP 562), so `import ladabench` imports no torch
and `ladabench --help` starts as fast as before. The suite itself lives in the `bench` package; the
API has its own import name because `bench.train` is a subpackage, which `from bench import train`
would return instead of the function.

    from ladabench import RunDir, TrainOptions, evaluate_snapshot, train

    options = TrainOptions.from_json(RunDir("runs/00000-...").read_options())
    run = train(options)  # a new run with the same options; `resume=Resume(run)` continues one
    lines = evaluate_snapshot(run.path, None, ["fid5k"], "cuda")

`train` trains or resumes a run (`Resume`; callbacks through `TrainHooks`), `TrainOptions` is a
run's resolved options, `RunDir` reads and writes a run folder, `load_generator` loads a run's
G_ema, and `evaluate_snapshot` evaluates a snapshot and appends its metric lines.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

PUBLIC = {  # name -> the module defining it, imported on first access and never by `import ladabench`
    "train": "bench.train.session",
    "Resume": "bench.train.session",
    "TrainHooks": "bench.train.loop",
    "TrainOptions": "bench.train.options",
    "RunDir": "bench.core.rundir",
    "load_generator": "bench.train.snapshots",
    "evaluate_snapshot": "bench.metrics.evaluate",
}
__all__ = ["__version__", *PUBLIC]

if TYPE_CHECKING:  # for type checkers and editors (`X as X`: a re-export); at run time `__getattr__` loads these
    from bench.core.rundir import RunDir as RunDir
    from bench.metrics.evaluate import evaluate_snapshot as evaluate_snapshot
    from bench.train.loop import TrainHooks as TrainHooks
    from bench.train.options import TrainOptions as TrainOptions
    from bench.train.session import Resume as Resume
    from bench.train.session import train as train
    from bench.train.snapshots import load_generator as load_generator


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first access, so `import ladabench` stays light."""
    if name == "__version__":
        return importlib.import_module("bench").__version__
    if name not in PUBLIC:
        raise AttributeError(f"module 'ladabench' has no attribute '{name}'")
    value = getattr(importlib.import_module(PUBLIC[name]), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    """The module's names, the public API included."""
    return sorted({*globals(), *__all__})
