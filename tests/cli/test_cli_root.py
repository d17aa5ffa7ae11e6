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


def test_warnings_print_as_one_message_line(tmp_path, monkeypatch, capsys):
    """On the command line a warning shows its kind and message, not a line of our source."""
    import sys
    import warnings

    import imaging_genetics.workflows.demo as demo
    from imaging_genetics.cli import main

    def warn(*args, **kwargs):
        warnings.warn("module 2: p-value is NaN", RuntimeWarning)

    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # restored afterwards
    monkeypatch.setattr(demo, "run_demo", warn)
    monkeypatch.setattr(sys, "argv", ["imaging-genetics", "demo", "--out", str(tmp_path / "d"), "-q"])
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        # print as Python does outside pytest (whose warnings capture records them instead)
        warnings.showwarning = lambda m, c, f, n, file=None, line=None: sys.stderr.write(
            warnings.formatwarning(m, c, f, n, line))
        try:
            main()
        except SystemExit as exc:
            assert not exc.code
    err = capsys.readouterr().err
    assert "warning (RuntimeWarning): module 2: p-value is NaN" in err
    assert "warnings.warn(" not in err and ".py:" not in err
