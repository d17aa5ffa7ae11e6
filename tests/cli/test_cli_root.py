from typer.testing import CliRunner

from imaging_genetics import __version__
from imaging_genetics.cli import app

runner = CliRunner()


def test_version_and_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("simulate",):
        assert command in result.output


def test_every_command_has_help():
    import typer.main

    group = typer.main.get_command(app)

    def walk(cmd, path):
        sub = getattr(cmd, "commands", None)
        if sub:
            for name, child in sub.items():
                yield from walk(child, path + [name])
        else:
            yield path

    paths = list(walk(group, []))
    assert paths
    for path in paths:
        result = runner.invoke(app, path + ["--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output


def test_unique_modality_names():
    from pathlib import Path

    from imaging_genetics.cli import unique_names

    assert unique_names(["snp", "roi"], [Path("snp.csv"), Path("roi.csv")]) == ["snp", "roi"]
    assert unique_names(["roi", "roi"], [Path("fmri/roi.csv"), Path("dmri/roi.csv")]) == ["fmri_roi", "dmri_roi"]
    assert unique_names(["roi", "roi"], [Path("a/roi.csv"), Path("a/roi.csv")]) == ["roi_1", "roi_2"]
    names = unique_names(["roi", "roi", "roi_1"], [Path("roi.csv"), Path("roi.csv"), Path("roi_1.csv")])
    assert len(set(names)) == 3


def test_output_folder_problem(tmp_path):
    from imaging_genetics.cli import output_folder_problem

    assert output_folder_problem(tmp_path) is None
    assert output_folder_problem(tmp_path / "new" / "deeper") is None
    (tmp_path / "afile").write_text("")
    assert "is a file, not a folder" in output_folder_problem(tmp_path / "afile")
    assert "afile is a file" in output_folder_problem(tmp_path / "afile" / "sub" / "x")


def test_floating_point_error_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    """A fit that diverges (FloatingPointError) ends with 'Error: ...' and status 2, no traceback."""
    import sys

    import pytest

    import imaging_genetics.workflows.demo as demo
    from imaging_genetics.cli import main

    def diverge(*args, **kwargs):
        raise FloatingPointError("every restart diverged (non-finite factors)")

    monkeypatch.setattr(demo, "run_demo", diverge)
    monkeypatch.setattr(sys, "argv", ["imaging-genetics", "demo", "--out", str(tmp_path / "d"), "-q"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == "Error: every restart diverged (non-finite factors)"


def _demo_stderr_with(run_demo, tmp_path, monkeypatch, capsys) -> str:
    """What ``imaging-genetics demo`` prints on stderr when the demo is ``run_demo``,
    with warnings shown as Python shows them outside pytest (whose warnings capture
    records them instead)."""
    import sys
    import warnings

    import imaging_genetics.workflows.demo as demo
    from imaging_genetics.cli import main

    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # restored afterwards
    monkeypatch.setattr(demo, "run_demo", run_demo)
    monkeypatch.setattr(sys, "argv", ["imaging-genetics", "demo", "--out", str(tmp_path / "d"), "-q"])
    with warnings.catch_warnings():
        warnings.simplefilter("always")

        def show(m, c, f, n, file=None, line=None):
            sys.stderr.write(warnings.formatwarning(m, c, f, n, line))

        warnings.showwarning = show
        try:
            main()
        except SystemExit as exc:
            assert not exc.code
        assert warnings.showwarning is show  # main leaves the caller's display as it was
    return capsys.readouterr().err


def test_warnings_print_as_one_message_line(tmp_path, monkeypatch, capsys):
    """On the command line a warning shows its kind and message, not a line of our source."""
    import warnings

    def warn(*args, **kwargs):
        warnings.warn("module 2: p-value is NaN", RuntimeWarning)

    err = _demo_stderr_with(warn, tmp_path, monkeypatch, capsys)
    assert "warning (RuntimeWarning): module 2: p-value is NaN" in err
    assert "warnings.warn(" not in err and ".py:" not in err


def test_a_repeated_warning_prints_once(tmp_path, monkeypatch, capsys):
    """The same warning from every fold of a study prints once; other warnings still print."""
    import warnings

    def warn(*args, **kwargs):
        for fold in range(3):
            with warnings.catch_warnings():  # as each fold's fit does; resets Python's registry
                warnings.warn("Ys[0]: columns 4 are constant", UserWarning)
        warnings.warn("Ys[0]: columns 4 are constant", RuntimeWarning)  # another kind
        warnings.warn("did not converge", UserWarning)

    err = _demo_stderr_with(warn, tmp_path, monkeypatch, capsys)
    assert err.count("warning (UserWarning): Ys[0]: columns 4 are constant") == 1
    assert err.count("warning (RuntimeWarning): Ys[0]: columns 4 are constant") == 1
    assert err.count("warning (UserWarning): did not converge") == 1
