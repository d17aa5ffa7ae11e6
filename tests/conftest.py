import matplotlib
import pytest

matplotlib.use("Agg")


def run_console(*args) -> tuple[int, str]:
    """Run the ``imaging-genetics`` console entry point in-process with ``args``:
    (exit code, stderr). Output on stdout is discarded."""
    import contextlib
    import io
    import sys

    from imaging_genetics.cli import main

    err, argv = io.StringIO(), sys.argv
    sys.argv = ["imaging-genetics", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            main()
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = argv
    return code, err.getvalue()


@pytest.fixture
def console():
    """:func:`run_console` for a test: ``console("nmf", "fit", ...) -> (code, stderr)``."""
    return run_console
