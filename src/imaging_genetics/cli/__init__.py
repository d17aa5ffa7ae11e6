"""Command-line interface: ``imaging-genetics COMMAND``.

Every command is a thin wrapper around the Python API, so a CLI run and a script
calling the same functions give the same numbers.
"""

from __future__ import annotations

import logging

import typer

from .. import __version__
from .biology import app as biology_app
from .nmf import app as nmf_app
from .simulate import app as simulate_app

app = typer.Typer(
    name="imaging-genetics",
    help="Brain imaging genetics: multi-task sparse CCA and joint graph-regularised NMF.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(simulate_app, name="simulate")
app.add_typer(nmf_app, name="nmf")
app.add_typer(biology_app, name="biology")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"imaging-genetics {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress and dropped items to stderr."),
) -> None:
    """Brain imaging genetics: multi-task sparse CCA and joint graph-regularised NMF."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    """Console-script entry point.

    Input errors (bad files, columns, parameters) are printed as one line naming
    the problem, with exit status 2, instead of a traceback.
    """
    import sys

    from ..base import IncompatibleModelFileError

    try:
        app()
    except (ValueError, TypeError, FileNotFoundError, IncompatibleModelFileError, ImportError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        sys.exit(2)
