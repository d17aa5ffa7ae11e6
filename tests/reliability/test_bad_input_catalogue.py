"""Every bad input in the catalogue gives the documented error naming the culprit."""

from __future__ import annotations

import re

import pytest

from _bad_input_catalogue import CASES, CLIFailure, outcome


@pytest.mark.parametrize("case", CASES, ids=[f"{c.boundary}: {c.bad_input}" for c in CASES])
def test_bad_input_gives_a_clear_error(case, tmp_path):
    cls, message = outcome(case, tmp_path)
    assert cls is not None, f"{case.bad_input}: no error was raised"
    assert issubclass(cls, case.error), f"{case.bad_input}: {cls.__name__}: {message}"
    assert re.search(case.pattern, message, flags=re.S), message
    if cls is CLIFailure:
        # One line, no traceback.
        assert "\n" not in message and "Traceback" not in message, message
    else:
        # Documented classes only: never a raw numpy/zip/KeyError leaking out.
        assert issubclass(cls, (ValueError, TypeError, FileNotFoundError)), cls


def test_catalogue_covers_every_boundary():
    boundaries = {c.boundary for c in CASES}
    assert {"io.read_table", "io.read_plink", "io.load_study", "cca.fit", "nmf.fit", "load", "cli"} <= boundaries
    assert len(CASES) >= 100
