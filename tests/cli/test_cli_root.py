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
