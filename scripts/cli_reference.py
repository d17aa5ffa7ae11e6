"""Regenerate the README's CLI reference from the commands' ``--help`` output.

Usage::

    python scripts/cli_reference.py          # rewrite the section in README.md
    python scripts/cli_reference.py --check  # exit 1 when README.md is out of date

The section lies between the ``<!-- cli-reference:start -->`` and
``<!-- cli-reference:end -->`` markers.
"""

from __future__ import annotations

import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- cli-reference:start -->"
END = "<!-- cli-reference:end -->"
WIDTH = 100


def _commands(group, path):
    yield path
    for name, child in sorted(getattr(group, "commands", {}).items()):
        yield from _commands(child, path + [name])


def help_text(args: list[str]) -> str:
    """``imaging-genetics ARGS --help`` at a fixed width, without colour."""
    from typer.testing import CliRunner

    from imaging_genetics.cli import app

    env = {"COLUMNS": str(WIDTH), "TERM": "dumb", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, args + ["--help"], env=env, terminal_width=WIDTH, prog_name="imaging-genetics")
    if result.exit_code != 0:
        raise RuntimeError(f"imaging-genetics {' '.join(args)} --help failed:\n{result.output}")
    lines = [line.rstrip() for line in result.output.strip("\n").splitlines()]
    return "\n".join(lines)


def reference() -> str:
    """The Markdown of the CLI reference: one ``--help`` block per command.

    The help is rendered by click's plain formatter rather than rich's boxes, so the
    text does not depend on the installed rich version.
    """
    import typer.core
    import typer.main

    from imaging_genetics.cli import app

    parts = []
    saved = typer.core.HAS_RICH
    typer.core.HAS_RICH = False
    try:
        for path in _commands(typer.main.get_command(app), []):
            title = " ".join(["imaging-genetics", *path])
            parts.append(f"#### `{title}`\n\n```text\n{help_text(path)}\n```\n")
    finally:
        typer.core.HAS_RICH = saved
    return "\n".join(parts)


def render(readme: str) -> str:
    """README text with the section between the markers replaced."""
    if START not in readme or END not in readme:
        raise ValueError(f"README.md lacks the markers {START} and {END}")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n\n{reference()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    current = README.read_text()
    updated = render(current)
    if "--check" in argv:
        if updated != current:
            print("README.md: the CLI reference is out of date; run python scripts/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
