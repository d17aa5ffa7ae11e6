"""The README's tutorial, Python API example and CLI reference are live, not prose.

The tutorial's shell commands are taken from README.md and run as written (in a
scratch folder holding a copy of ``examples/``); the Python API block is executed;
the CLI reference must equal what ``scripts/cli_reference.py`` generates from the
current ``--help`` output.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}")
    end = text.find("\n## ", start + 1)
    return text[start: end if end > 0 else None]


def _blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def _env() -> dict:
    env = dict(os.environ)
    # the console script next to this interpreter comes first
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def test_tutorial_commands_run_as_written(tmp_path):
    commands = [line for block in _blocks(_section("5-minute tutorial"), "bash")
                for line in block.splitlines() if line.strip()]
    assert len(commands) >= 2
    assert any("simulate" in c and "--format plink" in c for c in commands)
    assert any(c.startswith("imaging-genetics run ") for c in commands)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    for command in commands:
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    out = tmp_path / "study_results"
    html = (out / "report.html").read_text()
    results = json.loads((out / "results.json").read_text())
    assert results["n_samples"] == 150
    assert {row["method"] for row in results["cca"]["summary"]} == {"MTS2CCA", "SCCA"}
    assert html.count("data:image/png;base64,") == len(results["figures"]) >= 8
    assert (tmp_path / "study_data" / "genotypes.bed").is_file()
    assert (out / "cca_MTS2CCA_model.npz").is_file()


def test_readme_python_api_block_runs(tmp_path):
    blocks = _blocks(_section("Python API in brief"), "python")
    assert len(blocks) == 1
    done = subprocess.run([sys.executable, "-c", blocks[0]], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "model.npz").is_file()


def test_cli_reference_matches_help_output():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "scripts" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text()
    assert module.render(readme) == readme, "README's CLI reference is stale: run python scripts/cli_reference.py"
    section = _section("CLI reference")
    for command in ("imaging-genetics demo", "imaging-genetics run", "imaging-genetics simulate cca"):
        assert f"#### `{command}`" in section
    assert "--out" in section and "Usage: imaging-genetics run" in section
