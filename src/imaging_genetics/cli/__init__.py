"""Command-line interface: ``imaging-genetics COMMAND``.

Every command is a thin wrapper around the Python API, so a CLI run and a script
calling the same functions give the same numbers.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

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


def output_folder_problem(path: Path) -> Optional[str]:
    """Why ``path`` cannot be used as an output folder, or None when it can.

    Commands call it before reading data or fitting, so a bad ``--out`` fails at
    once instead of after the work (and without a raw ``[Errno 17]``).
    """
    path = Path(path)
    if path.exists():
        return None if path.is_dir() else f"{path} exists and is a file, not a folder"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        return f"cannot create the folder {path}: {parent} is a file, not a folder"
    return None


def check_output_folder(path: Path, option: str = "'--out' / '-o'") -> None:
    """Raise a usage error naming ``option`` when ``path`` cannot be an output folder."""
    problem = output_folder_problem(path)
    if problem is not None:
        raise typer.BadParameter(problem, param_hint=option)


def unique_names(stems: Sequence[str], paths: Sequence[Path]) -> list[str]:
    """Modality names from file stems, made unique when stems collide.

    Colliding stems get their folder's name in front (``fmri/roi.csv`` and
    ``dmri/roi.csv`` become ``fmri_roi`` and ``dmri_roi``); when that does not
    separate them (the same file twice, or equal folder names), a position suffix
    (``roi_1``, ``roi_2``). The names end up in output file names and tables, so two
    modalities never write to the same file.
    """
    names = [str(s) for s in stems]
    if len(set(names)) == len(names):
        return names
    counts = Counter(names)
    folders = [Path(p).parent.name or Path(p).resolve().parent.name for p in paths]
    with_folder = [f"{f}_{n}" if counts[n] > 1 and f else n for n, f in zip(names, folders)]
    names = with_folder if len(set(with_folder)) == len(with_folder) else names
    while len(set(names)) < len(names):  # the position separates what the folder did not
        counts = Counter(names)
        names = [f"{n}_{i + 1}" if counts[n] > 1 else n for i, n in enumerate(names)]
    logging.getLogger(__name__).warning(
        "input tables share a file name; their modalities are named %s", names)
    return names


def check_table_values(frame, source: str, *, nonnegative: bool = False) -> None:
    """A usage error naming ``source`` and the columns when a numeric table holds missing
    or infinite values (or, with ``nonnegative``, negative ones, which NMF cannot take)."""
    import numpy as np

    values = frame.to_numpy(dtype=np.float64)
    checks = [("missing (NaN)", np.isnan(values)), ("infinite", np.isinf(values))]
    if nonnegative:
        checks.append(("negative", values < 0))
    for what, bad in checks:
        if bad.any():
            cols = [str(c) for c in frame.columns[bad.any(axis=0)]]
            fix = ("impute or drop them first" if what != "negative" else
                   "NMF needs nonnegative data: rescale the table first (e.g. min-max per column, "
                   "imaging_genetics.preprocessing.NonnegativeScaler in Python)")
            raise typer.BadParameter(f"{source}: {int(bad.sum())} {what} value(s) in column(s) {cols[:5]}"
                                     f"{' and more' if len(cols) > 5 else ''}; {fix}")


def report_dropped(tables: Sequence[tuple[str, int]], n_common: int, what: str = "samples") -> None:
    """Log (warning) how many rows of each table were left out by an inner join on sample IDs."""
    dropped = [(name, n) for name, n in tables if n != n_common]
    if dropped:
        detail = ", ".join(f"{n - n_common} of the {n} in {name}" for name, n in dropped)
        logging.getLogger(__name__).warning(
            "keeping the %d %s present in every table; dropped %s (their IDs are missing from another table)",
            n_common, what, detail)


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

    check_output_folder(out)
    path = run_demo(out, DemoConfig(random_state=random_state, n_jobs=n_jobs), quiet=quiet)
    typer.echo(f"report: {path}")


@app.command("run")
def run(
    study: Path = typer.Argument(..., help="Study YAML file: inputs, preprocessing and analyses (see examples/study.yaml)."),
    out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: STUDY_results next to the YAML file)."),
    random_state: int = typer.Option(0, help="Seed of folds, permutations and fits."),
    n_jobs: int = typer.Option(1, help="Parallel worker processes for cross-validation, permutations and restarts."),
    blas_threads: int = typer.Option(1, min=0, help="BLAS threads per process; 0 leaves the library default (many threads pay off only for large matrices)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Run the analyses a study YAML declares on PLINK files and tables; write the same report as the demo."""
    from ..workflows.study import run_study

    target = out if out is not None else study.with_name(f"{study.stem}_results")
    check_output_folder(target)
    path = run_study(study, target, n_jobs=n_jobs, random_state=random_state, quiet=quiet,
                     blas_threads=blas_threads or None)
    typer.echo(f"report: {path}")


def _warning_line(message, category, filename, lineno, line=None) -> str:
    """A warning as the CLI prints it: its kind and message, without the source line."""
    return f"warning ({category.__name__}): {message}\n"


def _each_once(show):
    """``warnings.showwarning`` that passes each distinct warning (kind and message) to
    ``show`` once: a study or a grid repeats the same fit, and with it the same
    warning, once per fold or setting, which Python's own once-per-call-site rule does
    not catch (every ``catch_warnings`` block resets it)."""
    seen: set = set()

    def showwarning(message, category, filename, lineno, file=None, line=None):
        key = (category, str(message))
        if key not in seen:
            seen.add(key)
            show(message, category, filename, lineno, file, line)

    return showwarning


def main() -> None:
    """Console-script entry point.

    Input errors (bad files, columns, parameters) are printed as one line naming
    the problem, with exit status 2, instead of a traceback.
    """
    import sys
    import warnings

    from ..base import IncompatibleModelFileError

    # on the command line a warning is a message for the user, not a pointer into our source
    warnings.formatwarning = _warning_line
    shown_before = warnings.showwarning
    warnings.showwarning = _each_once(shown_before)
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
    except (ValueError, TypeError, OSError, IncompatibleModelFileError, ImportError, FloatingPointError) as exc:
        # OSError covers missing files and output paths that cannot be written;
        # FloatingPointError a fit that diverged for the chosen penalties (its message says which).
        typer.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    finally:
        warnings.showwarning = shown_before
    if isinstance(code, int) and code:
        sys.exit(code)
