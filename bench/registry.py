"""The model registry: a dict of named models (DiT style), built from the entries in `bench.zoo`.

Adding a model is one model file (in `baselines/`, say), one entry in a `bench/zoo/` module's
ENTRIES and one test (see CONTRIBUTING.md). The suite knows models only through this table; the
model packages (`ladagan/`, `baselines/`) know nothing of the suite.
"""

from __future__ import annotations

from bench.core.errors import UserError
from bench.zoo import ablations, baselines, ladagan
from bench.zoo.spec import ModelSpec


def _table(*entries: ModelSpec) -> dict[str, ModelSpec]:
    """Name -> entry; a name may appear once."""
    table: dict[str, ModelSpec] = {}
    for spec in entries:
        if spec.name in table:
            raise ValueError(f"model '{spec.name}' registered twice")
        table[spec.name] = spec
    return table


MODELS: dict[str, ModelSpec] = _table(*ladagan.ENTRIES, *ablations.ENTRIES, *baselines.ENTRIES)


def get_model(name: str) -> ModelSpec:
    """Look a model up by name, or fail with the list of known names."""
    if name not in MODELS:
        raise UserError(f"model '{name}' is unknown; known: {', '.join(MODELS)}")
    return MODELS[name]


def all_models() -> dict[str, ModelSpec]:
    """Every registered model, in registry order."""
    return dict(MODELS)
