"""nox sessions for ladabench: tests and lint (benchmark sessions are added as their commands land).

Every session runs in the active environment (`venv_backend="none"`): torch is several GB, so one
environment is installed once (see README) and reused by every session.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["tests", "lint"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the CPU test suite (extra pytest arguments pass through: `nox -s tests -- -k data`)."""
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and common bugs with ruff."""
    session.run("ruff", "check", "ladagan", "baselines", "bench", "tests", "noxfile.py")
