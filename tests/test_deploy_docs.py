"""docs/deploy/: the Kubernetes CronJob (Indexed Job) and the AWS Batch array job are valid at
the schema level, and the command each runs parses with our CLI and shards N ways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml

from backupcheck.cli import app
from backupcheck.history.s3guard import is_s3_url
from backupcheck.shards import parse_shard

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy"


def parse_command(argv: list[str]) -> dict[str, Any]:
    """``backupcheck SUB ARGS`` parsed by the real CLI (nothing runs): the option values."""
    assert argv[0] == "backupcheck"
    group: Any = typer.main.get_command(app)  # a click group (typer may bundle its click)
    with group.make_context("backupcheck", [], resilient_parsing=True) as ctx:
        name, command, rest = group.resolve_command(ctx, list(argv[1:]))
        assert command is not None, name
        with command.make_context(name, rest, parent=ctx) as sub:  # bad options raise here
            return {"command": name, **sub.params}


def shard_count(params: dict[str, Any], index_variable: str) -> int:
    shard = parse_shard(params["shard"], {index_variable: "0"})
    assert params["shard"].startswith("auto/"), "the engine supplies the index"
    return shard.count


def test_kubernetes_cronjob_starts_an_indexed_job_of_n_shards() -> None:
    doc = yaml.safe_load((DEPLOY / "kubernetes-cronjob.yaml").read_text())
    assert doc["apiVersion"] == "batch/v1" and doc["kind"] == "CronJob"
    assert doc["metadata"]["name"] and len(doc["spec"]["schedule"].split()) == 5
    job = doc["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed"
    assert 1 <= job["parallelism"] <= job["completions"]
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    (container,) = pod["containers"]
    assert container["name"] and container["image"]
    params = parse_command([*container["command"], *container["args"]])
    assert params["command"] == "drill"
    assert shard_count(params, "JOB_COMPLETION_INDEX") == job["completions"]
    assert is_s3_url(params["history"])
    # the targets and the password files come from Secrets mounted where the command looks
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    targets = mounts[str(params["targets"])]
    assert "secret" in volumes[targets["name"]] and targets["readOnly"]
    secret_mounts = [m for m in mounts.values() if "secret" in volumes[m["name"]]]
    assert len(secret_mounts) >= 2
    for variable in container.get("env", []):  # no secret values inline
        assert "SECRET" not in variable["name"] and "PASSWORD" not in variable["name"]
    assert str(params["plan"]).startswith(tuple(mounts))


def test_aws_batch_array_job_runs_n_shards() -> None:
    definition = json.loads((DEPLOY / "aws-batch-job-definition.json").read_text())
    submit = json.loads((DEPLOY / "aws-batch-submit-job.json").read_text())
    assert definition["type"] == "container" and definition["jobDefinitionName"]
    container = definition["containerProperties"]
    assert container["image"] and container["jobRoleArn"].startswith("arn:aws:iam::")
    kinds = {r["type"] for r in container["resourceRequirements"]}
    assert {"VCPU", "MEMORY"} <= kinds
    assert submit["jobDefinition"] == definition["jobDefinitionName"] and submit["jobQueue"]
    size = submit["arrayProperties"]["size"]
    assert 2 <= size <= 10_000  # AWS Batch's array size limits
    params = parse_command(container["command"])
    assert params["command"] == "drill"
    assert shard_count(params, "AWS_BATCH_JOB_ARRAY_INDEX") == size
    assert is_s3_url(params["history"])
    mounted = [m["containerPath"] for m in container["mountPoints"]]
    assert any(str(params["targets"]).startswith(p) for p in mounted)
    for secret in container.get("secrets", []):  # secrets by reference, never by value
        assert secret["valueFrom"].startswith("arn:aws:secretsmanager:")
    assert all("PASSWORD" not in e["name"] for e in container.get("environment", []))
