"""Command-line interface: ``imaging-genetics COMMAND``.

Every command is a thin wrapper around the Python API, so a CLI run and a script
calling the same functions give the same numbers.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from .. import __version__
from .biology import app as biology_app
from .cca import app as cca_app
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
app.add_typer(cca_app, name="cca")


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


@app.command()
def demo(
    out: Path = typer.Option(Path("demo"), "--out", "-o", help="Folder for report.html, results.json, tables and figures."),
    random_state: int = typer.Option(0, help="Seed of the simulated data and of every fit."),
    n_jobs: int = typer.Option(2, help="Parallel worker processes for cross-validation and permutations."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Run both studies (multi-task sparse CCA and joint NMF) on built-in simulated data and write a report."""
    from ..workflows.demo import DemoConfig, run_demo

    path = run_demo(out, DemoConfig(random_state=random_state, n_jobs=n_jobs), quiet=quiet)
    typer.echo(f"report: {path}")


@app.command("run")
def run(
    study: Path = typer.Argument(..., help="Study YAML file: inputs, preprocessing and analyses (see examples/study.yaml)."),
    out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: STUDY_results next to the YAML file)."),
    random_state: int = typer.Option(0, help="Seed of folds, permutations and fits."),
    n_jobs: int = typer.Option(1, help="Parallel worker processes for cross-validation, permutations and restarts."),
    blas_threads: int = typer.Option(1, help="BLAS threads per process; 0 leaves the library default (many threads pay off only for large matrices)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Run the analyses a study YAML declares on PLINK files and tables; write the same report as the demo."""
    from ..workflows.study import run_study

    target = out if out is not None else study.with_name(f"{study.stem}_results")
    path = run_study(study, target, n_jobs=n_jobs, random_state=random_state, quiet=quiet,
                     blas_threads=blas_threads or None)
    typer.echo(f"report: {path}")


def main() -> None:
    """Console-script entry point.

    Input errors (bad files, columns, parameters) are printed as one line naming
    the problem, with exit status 2, instead of a traceback.
    """
    import sys

    from ..base import IncompatibleModelFileError

    # Typer may vendor click, so its exception classes are found through typer's own.
    usage_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
    no_args = getattr(sys.modules[usage_error.__module__], "NoArgsIsHelpError", ())
    try:
        code = app(standalone_mode=False)
    except no_args as exc:
        exc.show()
        sys.exit(2)
    except usage_error as exc:  # bad or missing option values
        cmd = exc.ctx.command_path if exc.ctx is not None else "imaging-genetics"
        typer.echo(f"Error: {' '.join(exc.format_message().split())} (see: {cmd} --help)", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(1)
    except (ValueError, TypeError, OSError, IncompatibleModelFileError, ImportError) as exc:
        # OSError covers missing files and output paths that cannot be written.
        typer.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    if isinstance(code, int) and code:
        sys.exit(code)
