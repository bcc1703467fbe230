"""The model registry: a dict of named models (DiT style), built from `bench.zoo` and installed plugins.

Adding a model is one model file (in `baselines/`, say), one entry in a `bench/zoo/` module's
ENTRIES and one test (see CONTRIBUTING.md); or, without touching this repository, a package that
declares an entry point in the `ladabench.models` group naming a ModelSpec or a list of them (see
docs/extending.md). The suite knows models only through this table; the model packages
(`ladagan/`, `baselines/`) know nothing of the suite.
"""

from __future__ import annotations

import dataclasses
import functools
from importlib.metadata import EntryPoint, entry_points

from bench.core.errors import UserError
from bench.zoo import ablations, baselines, ladagan
from bench.zoo.spec import BUILT_IN, ModelSpec

PLUGIN_GROUP = "ladabench.models"  # the entry-point group an installed package registers its models under


def _table(*entries: ModelSpec) -> dict[str, ModelSpec]:
    """Name -> entry; a name may appear once."""
    table: dict[str, ModelSpec] = {}
    for spec in entries:
        if spec.name in table:
            raise ValueError(f"model '{spec.name}' registered twice")
        table[spec.name] = spec
    return table


BUILT_IN_MODELS: dict[str, ModelSpec] = _table(*ladagan.ENTRIES, *ablations.ENTRIES, *baselines.ENTRIES)


def _package_of(entry_point: EntryPoint) -> str:
    """'name version' of the distribution that declares an entry point (its module name when unknown)."""
    dist = getattr(entry_point, "dist", None)
    if dist is not None and dist.metadata["Name"]:
        return f"{dist.metadata['Name']} {dist.version}"
    return entry_point.value.split(":")[0].split(".")[0]


def plugin_specs(entry_point: EntryPoint) -> list[ModelSpec]:
    """The ModelSpecs one entry point provides, each labelled with the package it came from."""
    package = _package_of(entry_point)
    where = f"model plugin '{entry_point.name} = {entry_point.value}' of package '{package}'"
    try:
        loaded = entry_point.load()
    except Exception as exc:  # any failure inside someone else's package: one line naming it
        raise UserError(f"{where} failed to load ({type(exc).__name__}: {exc}); fix or uninstall that package") from exc
    specs = list(loaded) if isinstance(loaded, list | tuple) else [loaded]
    if not specs or not all(isinstance(s, ModelSpec) for s in specs):
        raise UserError(f"{where} is not a bench.zoo.spec.ModelSpec or a list of them; point it at one")
    return [dataclasses.replace(s, package=package) for s in specs]


def with_plugins(built_in: dict[str, ModelSpec], found: list[EntryPoint]) -> dict[str, ModelSpec]:
    """The built-in table followed by every plugin's models; a name clash is refused with both sources named."""
    table = dict(built_in)
    for entry_point in sorted(found, key=lambda ep: (ep.name, ep.value)):
        for spec in plugin_specs(entry_point):
            if spec.name in table:
                other = table[spec.name].package
                owner = "the built-in model" if other == BUILT_IN else f"the model of package '{other}'"
                raise UserError(
                    f"model '{spec.name}' of package '{spec.package}' (entry point {entry_point.value}) clashes "
                    f"with {owner} '{spec.name}'; rename the plugin's model"
                )
            table[spec.name] = spec
    return table


@functools.cache
def _models() -> dict[str, ModelSpec]:
    """Every registered model, read once per process (entry points are scanned at first use)."""
    return with_plugins(BUILT_IN_MODELS, list(entry_points(group=PLUGIN_GROUP)))


def get_model(name: str) -> ModelSpec:
    """Look a model up by name, or fail with the list of known names."""
    models = _models()
    if name not in models:
        raise UserError(f"model '{name}' is unknown; known: {', '.join(models)}")
    return models[name]


def all_models() -> dict[str, ModelSpec]:
    """Every registered model, built-ins first in registry order, then plugins."""
    return dict(_models())
