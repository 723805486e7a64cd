"""Issue 13: the shipped CI pipelines (``docs/ci/``) run as written.

Each pipeline's YAML is parsed (PyYAML) and its shell steps run with bash, in order, in a
working directory that holds a tiny healthy estate (one local restic repository, a client
file in ``targets/``, a plan in ``restore_tests/``), with ``backupcheck`` on PATH. Install
lines (``apt-get``, ``pip install``) and steps that do not invoke backupcheck (fetching an
earlier history from the CI service) are skipped; ``uses:`` actions are not run. Every step
that runs must succeed, the final verdict included, and leave the files the pipeline
publishes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.drill_helpers import numbered_files, restic_client, restic_estate

CI = Path(__file__).resolve().parents[1] / "docs" / "ci"
_INSTALL = re.compile(r"\b(apt-get|pip install)\b")
#: a step that talks to the CI service itself (an earlier run's artifact): not run here
_CI_SERVICE = re.compile(r"(^|\s)(gh|curl)\s")
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _workdir(root: Path) -> Path:
    """A repository as the pipelines expect: targets/ and restore_tests/ at its top."""
    work = root / "work"
    repo, source = restic_estate(root / "fs1", numbered_files(4))
    repo.backup(source)
    restic_client(work / "targets", "fs1", repo, source=source)
    (work / "restore_tests").mkdir()
    (work / "restore_tests" / "weekly.toml").write_text(
        'name = "weekly"\nfiles = 4\nread_data_subset = ""\n', encoding="utf-8")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "backupcheck"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m backupcheck "$@"\n',
                    encoding="utf-8")
    shim.chmod(0o755)
    return work


def _environment(root: Path, values: dict[str, str]) -> dict[str, str]:
    """A CI runner's environment: PATH with the shim first, no AWS identity of the caller."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BACKUPCHECK_"))}
    base["PATH"] = f"{root / 'bin'}{os.pathsep}{base.get('PATH', '/usr/bin:/bin')}"
    base["CI"] = "true"
    return {**base, **values}


def _shell_lines(script: str) -> str:
    """The script without its install lines (the project is already installed here)."""
    return "\n".join(line for line in script.splitlines() if not _INSTALL.search(line))


def _bash(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)


def _parquet_files(directory: Path) -> list[Path]:
    return list(directory.rglob("*.parquet"))


def test_the_github_actions_workflow_runs(tmp_path: Path) -> None:
    workflow: dict[str, Any] = yaml.safe_load((CI / "github-actions.yml").read_text())
    work = _workdir(tmp_path)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    summary = tmp_path / "step-summary.md"
    github_env = tmp_path / "github-env"
    outputs: dict[str, dict[str, str]] = {}
    env_file: dict[str, str] = {}

    def expression(match: re.Match[str]) -> str:
        text = match.group(1)
        step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", text)
        if step:
            return outputs.get(step.group(1), {}).get(step.group(2), "")
        if text.startswith("inputs.demo"):
            return "0"  # a scheduled run: not the demo
        return ""  # secrets, tokens: none here

    job = workflow["jobs"]["drill"]
    ran: list[str] = []
    for number, step in enumerate(job["steps"]):
        if "run" not in step:
            continue
        script = _shell_lines(step["run"])
        if _CI_SERVICE.search(script):
            continue
        output = tmp_path / f"output-{number}"
        output.touch()
        values = {k: _EXPRESSION.sub(expression, str(v))
                  for k, v in {**workflow.get("env", {}), **step.get("env", {})}.items()}
        env = _environment(tmp_path, {
            **values, **env_file, "RUNNER_TEMP": str(runner_temp),
            "GITHUB_OUTPUT": str(output), "GITHUB_ENV": str(github_env),
            "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(work)})
        github_env.touch()
        done = _bash(_EXPRESSION.sub(expression, script), env, work)
        assert done.returncode == 0, (step.get("name"), done.stdout, done.stderr)
        ran.append(str(step.get("name")))
        if "id" in step:
            outputs[step["id"]] = dict(line.split("=", 1)
                                       for line in output.read_text().splitlines() if line)
        env_file.update(line.split("=", 1)
                        for line in github_env.read_text().splitlines() if line)

    assert ran == ["Install restic and backupcheck", "Restore drill", "RTO trend", "Verdict"]
    assert outputs["drill"]["exit_code"] == "0" and outputs["trend"]["exit_code"] == "0"
    # local disk storage warns (it cannot be immutable); a warning passes the gate
    assert json.loads((work / "drill.json").read_text())["status"] in ("pass", "warn")
    assert "<testsuite" in (work / "trend.xml").read_text()
    assert (work / "trend.png").stat().st_size > 0
    assert summary.read_text().strip()
    assert _parquet_files(work / ".backupcheck" / "history")


def test_the_gitlab_ci_job_runs(tmp_path: Path) -> None:
    pipeline: dict[str, Any] = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    work = _workdir(tmp_path)
    job = pipeline["backupcheck-drill"]
    env = _environment(tmp_path, {**{k: str(v) for k, v in pipeline["variables"].items()},
                                  "CI_PROJECT_DIR": str(work), "CI_JOB_NAME": "backupcheck-drill"})
    # GitLab runs before_script and script in one shell, stopping at the first failing line
    before = [_shell_lines(line) for line in job["before_script"]]
    before = [line for line in before if not _CI_SERVICE.search(line)]  # no artifact API
    lines = [*before, *job["script"]]
    done = _bash("\n".join(lines), env, work)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "drill exit 0, trend exit 0" in done.stdout
    # local disk storage warns (it cannot be immutable); a warning passes the gate
    assert json.loads((work / "drill.json").read_text())["status"] in ("pass", "warn")
    assert "<testsuite" in (work / "trend.xml").read_text()
    assert (work / "trend.md").read_text().strip()
    assert (work / "trend.png").stat().st_size > 0
    for path in job["artifacts"]["paths"]:
        assert (work / path).exists(), path
    assert _parquet_files(work / ".backupcheck" / "history")
