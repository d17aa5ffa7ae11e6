"""The README opens with the two set-up commands, and CI runs the test one."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _code_lines():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_starts_with_the_two_commands():
    lines = _code_lines()
    assert lines[0] == "pip install . && imaging-genetics demo --out demo"
    assert lines[1] == 'pip install ".[test]" && python -m pytest'


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    found = subprocess.run(
        ["bash", "-c", "grep -m1 '^pip install \"\\.\\[test\\]\"' README.md"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert found == _code_lines()[1]
    assert 'bash -c "$test_command"' in script
