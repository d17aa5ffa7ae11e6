"""``imaging-genetics run``: input errors are one line with exit status 2."""

import os
import subprocess
import sys
from pathlib import Path


def _run(args, cwd):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(["imaging-genetics", "run", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_run_without_analyses_is_an_input_error(tmp_path):
    (tmp_path / "a.csv").write_text("IID,roi1,roi2\nS1,1,2\nS2,3,5\nS3,4,4\n")
    (tmp_path / "study.yaml").write_text("modalities:\n  - {name: fmri, file: a.csv, id_column: IID, kind: imaging}\n")
    done = _run(["study.yaml", "--out", "res"], tmp_path)
    assert done.returncode == 2
    assert "no 'analyses' section" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "res" / "report.html").exists()


def test_run_missing_study_file(tmp_path):
    done = _run(["missing.yaml"], tmp_path)
    assert done.returncode == 2 and "missing.yaml" in done.stderr
