"""Sharing the study through DVC remotes, against real servers on 127.0.0.1.

An S3 server (moto's ThreadedMotoServer, with IAM authentication on) and a read-only HTTP
server (the standard library's, over a pushed local remote) run in this process on loopback
ports the OS picks, and stop when the module ends. The origin repository is a copy of the
run's tiny study (conftest's `tiny_pipeline`, already run), which pushes it; every test then
works in clones of it, as teammates would. Queued experiments are test_pipeline's.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import settings as moto_settings
from moto.server import ThreadedMotoServer

from tests.tiny_pipeline import copy_repo

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
BUCKET = "noisereg-team"
OUTPUT_DIRS = ("data", "models", "metrics", "plots", "reports")
# moto's first three requests need no signature: they create the team's IAM user, its key
# and its policy. Every request after them must be signed with that key.
UNAUTHENTICATED_SETUP_REQUESTS = 3
# The param the origin's experiment `louder` sets, and its value.
LOUDER = ("variants.input_noise.input_stddev", 0.2)


@dataclass(frozen=True)
class S3:
    """A running S3 server and the credentials of its one user."""

    url: str
    key_id: str
    secret: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
        )


def run(cwd: Path, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(cwd.parent),
        "AWS_EC2_METADATA_DISABLED": "true",
        "DVC_NO_ANALYTICS": "1",  # no background usage-report process per command
    }
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-2000:]}"
            f"{result.stderr[-2000:]}"
        )
    return result


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(cwd, str(BIN / "dvc"), *args, check=check)


def ran_stages(log: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", log))


def output_hashes(repo: Path) -> dict[str, str]:
    """Return relative path -> md5 of every pipeline output file (DVC's .gitignore aside)."""
    return {
        str(path.relative_to(repo)): hashlib.md5(path.read_bytes()).hexdigest()
        for directory in OUTPUT_DIRS
        for path in sorted((repo / directory).rglob("*"))
        if path.is_file() and path.name != ".gitignore"
    }


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    previous = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = UNAUTHENTICATED_SETUP_REQUESTS
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        iam = boto3.client(
            "iam",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        iam.create_user(UserName="team")
        key = iam.create_access_key(UserName="team")["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="team", PolicyName="s3", PolicyDocument=json.dumps(policy))
        store = S3(url, key["AccessKeyId"], key["SecretAccessKey"])
        store.client().create_bucket(Bucket=BUCKET)
        yield store
    finally:
        server.stop()
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = previous


def use_credentials(repo: Path, s3: S3, secret: str | None = None) -> None:
    """Put the S3 credentials in .dvc/config.local, which git never sees."""
    dvc(repo, "remote", "modify", "--local", "team", "access_key_id", s3.key_id)
    dvc(repo, "remote", "modify", "--local", "team", "secret_access_key", secret or s3.secret)


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory, tiny_pipeline: Path, s3: S3) -> Path:
    """A repository that ran the tiny study and pushed code (bare git) and data (S3)."""
    base = tmp_path_factory.mktemp("sharing")
    repo = copy_repo(tiny_pipeline, base / "origin")
    run(base, "git", "init", "-q", "--bare", "-b", "main", str(base / "team.git"))
    # The shared remote is committed; its credentials are not (docs/sharing.md).
    dvc(repo, "remote", "add", "-d", "team", f"s3://{BUCKET}/noisereg")
    dvc(repo, "remote", "modify", "team", "endpointurl", s3.url)
    dvc(repo, "remote", "modify", "team", "verify", "true")
    use_credentials(repo, s3)
    assert "Data and pipelines are up to date" in dvc(repo, "status").stdout
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "the team's remote")
    run(repo, "git", "remote", "add", "origin", str(base / "team.git"))
    run(repo, "git", "push", "-q", "origin", "main")
    dvc(repo, "push", "--run-cache")
    assert "config.local" not in run(repo, "git", "ls-files", ".dvc").stdout
    return repo


def restore(repo: Path) -> None:
    """Put the committed params, dvc.lock, metrics and outputs back after a test's edits."""
    run(repo, "git", "checkout", "--", ".")
    dvc(repo, "checkout", "--force")


def clone(origin: Path, name: str, s3: S3 | None = None) -> Path:
    target = origin.parent / name
    run(origin.parent, "git", "clone", "-q", str(origin.parent / "team.git"), str(target))
    run(target, "git", "config", "user.email", "test@example.invalid")
    run(target, "git", "config", "user.name", "test")
    if s3 is not None:
        use_credentials(target, s3)
    return target


def test_a_clone_pulls_identical_outputs_and_reruns_nothing(origin: Path, s3: S3) -> None:
    teammate = clone(origin, "pulled", s3)
    started = time.monotonic()
    dvc(teammate, "pull")
    print(f"dvc pull of the tiny study: {time.monotonic() - started:.1f} s")
    assert output_hashes(teammate) == output_hashes(origin)
    assert "Data and pipelines are up to date" in dvc(teammate, "status").stdout
    assert ran_stages(dvc(teammate, "repro").stdout) == set()


@dataclass(frozen=True)
class Experiment:
    """The origin's experiment `louder`: its `dvc exp run` log and the results it trained."""

    log: str
    results: dict[str, bytes]


def louder_results(repo: Path) -> dict[str, bytes]:
    """Return the files `train@input_noise` writes that tests compare, as bytes."""
    paths = ("plots/replicates/input_noise.csv", "plots/history/input_noise.csv")
    return {path: (repo / path).read_bytes() for path in paths}


@pytest.fixture(scope="module")
def louder(origin: Path) -> Experiment:
    """The origin's experiment `louder`, pushed with the run-cache; then the origin is restored.

    A training param: `dvc exp run -S` retrains that variant (only its stage: summarize and
    report are test_pipeline's) in the origin's workspace, which also records the run in
    its run-cache. The experiment (git refs and outputs) and the run-cache go to the
    team's remotes; then the origin's workspace is back at its commit.
    """
    param, value = LOUDER
    run_log = dvc(
        origin, "exp", "run", "-n", "louder", "-S", f"{param}={value}", "train@input_noise"
    )
    try:
        experiment = Experiment(run_log.stdout, louder_results(origin))
        dvc(origin, "exp", "push", "origin", "louder")
        dvc(origin, "push", "--run-cache")
    finally:
        restore(origin)
    return experiment


def test_experiments_are_pushed_and_pulled(origin: Path, s3: S3, louder: Experiment) -> None:
    # The experiment's row and results (not the workspace's) travel to the teammate.
    assert ran_stages(louder.log) == {"train@input_noise"}
    teammate = clone(origin, "experiments", s3)
    dvc(teammate, "exp", "pull", "origin", "louder")
    shown = dvc(teammate, "exp", "show", "--json").stdout
    assert "louder" in shown and re.search(r'"input_stddev": 0\.2\b', shown)
    dvc(teammate, "exp", "apply", "louder")
    assert louder_results(teammate) == louder.results != louder_results(origin)


def test_run_cache_restores_a_teammates_run_instead_of_training(
    origin: Path, s3: S3, louder: Experiment
) -> None:
    # The origin tried a param value (the `louder` experiment) and pushed its run-cache; a
    # teammate who tries the same value gets those outputs instead of training.
    teammate = clone(origin, "run-cache", s3)
    dvc(teammate, "pull", "--run-cache")  # the outputs of HEAD and the run history
    params = yaml.safe_load((teammate / "params.yaml").read_text())
    params["variants"]["input_noise"]["input_stddev"] = LOUDER[1]
    (teammate / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # --pull fetches the outputs of the run-cache entry it finds (DVC 3 pulls only the
    # entries themselves with --run-cache). The experiment ran that stage alone.
    log = dvc(teammate, "repro", "--pull", "train@input_noise").stdout
    assert "Stage 'train@input_noise' is cached - skipping run" in log
    assert ran_stages(log) == set()
    assert louder_results(teammate) == louder.results
    # Restorable because every output of a training stage is cached (see the next test).
    train = yaml.safe_load((teammate / "dvc.yaml").read_text())["stages"]["train"]["do"]
    declared = [out for key in ("outs", "metrics", "plots") for out in train.get(key, [])]
    assert not [out for out in declared if isinstance(out, dict) and "cache" in str(out)]


RUN_CACHE_STAGE = """\
stages:
  s:
    cmd: python stage.py
    deps:
      - stage.py
    params:
      - x
    outs:
      - cached.txt
    metrics:
      - uncached.json:
          cache: false
"""
RUN_CACHE_SCRIPT = """\
import yaml

x = yaml.safe_load(open("params.yaml"))["x"]
for name in ("cached.txt", "uncached.json"):
    open(name, "w").write(f"{name}: {x}")  # distinct contents, distinct objects
"""


def test_a_stage_with_an_uncached_output_is_not_restored_from_a_teammates_run_cache(
    tmp_path: Path,
) -> None:
    # Why only summarize and report have uncached outputs (dvc.yaml's header): DVC 3.67's
    # `dvc push --run-cache` sends the run entries, `dvc push`/`dvc exp push` the cached
    # outputs, and nothing sends an uncached output's object; a teammate's restore of that
    # run then misses it and reruns the stage.
    origin, team = tmp_path / "origin", tmp_path / "team.git"
    origin.mkdir()
    run(tmp_path, "git", "init", "-q", "--bare", "-b", "main", str(team))
    for command in (("init", "-q", "-b", "main"), ("config", "user.email", "t@e.invalid")):
        run(origin, "git", *command)
    run(origin, "git", "config", "user.name", "t")
    dvc(origin, "init", "-q")
    dvc(origin, "remote", "add", "-d", "store", str(tmp_path / "store"))
    (origin / "dvc.yaml").write_text(RUN_CACHE_STAGE)
    (origin / "stage.py").write_text(RUN_CACHE_SCRIPT)
    (origin / "params.yaml").write_text("x: 1\n")
    dvc(origin, "repro")
    run(origin, "git", "add", "-A")
    run(origin, "git", "commit", "-qm", "x = 1")
    run(origin, "git", "remote", "add", "origin", str(team))
    run(origin, "git", "push", "-q", "origin", "main")
    dvc(origin, "push")
    dvc(origin, "exp", "run", "-n", "x2", "-S", "x=2")  # a run with x = 2 ...
    dvc(origin, "exp", "push", "origin", "x2")
    dvc(origin, "push", "--run-cache")  # ... shared with the team
    teammate = tmp_path / "teammate"
    run(tmp_path, "git", "clone", "-q", str(team), str(teammate))
    dvc(teammate, "pull", "--run-cache")
    (teammate / "params.yaml").write_text("x: 2\n")
    log = dvc(teammate, "repro", "--pull")
    assert "Missing cache files" in log.stderr and "uncached.json" in log.stderr
    assert "Running stage 's'" in log.stdout  # trained again, not restored


@pytest.fixture
def http_remote(origin: Path) -> Iterator[str]:
    """A read-only HTTP remote: a pushed local remote served on 127.0.0.1."""
    store = origin.parent / "published"
    dvc(origin, "remote", "add", "--local", "-f", "published", str(store))
    dvc(origin, "push", "-r", "published")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(store))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def test_read_only_http_remote_serves_a_clone(origin: Path, http_remote: str) -> None:
    reader = clone(origin, "http-reader")
    dvc(reader, "remote", "add", "--local", "web", http_remote)
    dvc(reader, "pull", "-r", "web")
    assert output_hashes(reader) == output_hashes(origin)
    assert "Data and pipelines are up to date" in dvc(reader, "status").stdout


def test_a_push_to_a_stopped_server_fails_and_loses_nothing(origin: Path, s3: S3) -> None:
    # A second endpoint on the same (in-process) storage, so it can stop and come back.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    dvc(origin, "remote", "add", "--local", "-f", "flaky", f"s3://{BUCKET}/flaky")
    dvc(origin, "remote", "modify", "--local", "flaky", "endpointurl", f"http://{host}:{port}")
    dvc(origin, "remote", "modify", "--local", "flaky", "access_key_id", s3.key_id)
    dvc(origin, "remote", "modify", "--local", "flaky", "secret_access_key", s3.secret)
    server.stop()
    before = output_hashes(origin)
    cache = sorted(p.name for p in (origin / ".dvc" / "cache").rglob("*") if p.is_file())
    failed = dvc(origin, "push", "-r", "flaky", check=False)
    assert failed.returncode != 0 and "Could not connect to the endpoint URL" in failed.stderr
    assert output_hashes(origin) == before
    assert sorted(p.name for p in (origin / ".dvc" / "cache").rglob("*") if p.is_file()) == cache
    # The server comes back on the same address: the same push completes.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        dvc(origin, "push", "-r", "flaky")
        listed = s3.client().list_objects_v2(Bucket=BUCKET, Prefix="flaky/")
        assert listed["KeyCount"] > 0
    finally:
        server.stop()


def test_a_corrupted_object_is_not_checked_out(origin: Path, s3: S3) -> None:
    client = s3.client()
    # An object the committed outputs need: plots/grid_refits.csv as dvc.lock records it.
    lock = yaml.safe_load((origin / "dvc.lock").read_text())
    outs = {o["path"]: o["md5"] for o in lock["stages"]["grid_search"]["outs"]}
    digest = outs["plots/grid_refits.csv"]
    key = f"noisereg/files/md5/{digest[:2]}/{digest[2:]}"
    original = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    flipped = bytes([original[0] ^ 0xFF]) + original[1:]
    client.put_object(Bucket=BUCKET, Key=key, Body=flipped)
    try:
        teammate = clone(origin, "corrupt", s3)
        pulled = dvc(teammate, "pull", check=False)
        assert pulled.returncode != 0
        digest = key.split("/files/md5/")[1].replace("/", "")
        for path, md5 in output_hashes(teammate).items():
            assert md5 != hashlib.md5(flipped).hexdigest(), f"{path} holds the corrupted bytes"
        assert digest not in {
            p.parent.name + p.name for p in (teammate / ".dvc" / "cache").rglob("*")
        }
    finally:
        client.put_object(Bucket=BUCKET, Key=key, Body=original)


def test_wrong_credentials_get_a_clear_error(origin: Path, s3: S3) -> None:
    teammate = clone(origin, "wrong-key")
    use_credentials(teammate, s3, secret="not-the-secret")
    pulled = dvc(teammate, "pull", check=False)
    assert pulled.returncode != 0
    assert "SignatureDoesNotMatch" in pulled.stderr or "Forbidden" in pulled.stderr, pulled.stderr
    # Nothing was checked out: the only outputs there are the ones git holds.
    tracked = set(run(teammate, "git", "ls-files").stdout.split())
    assert set(output_hashes(teammate)) <= tracked
