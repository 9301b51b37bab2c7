"""Sharing the study through DVC remotes, against real servers on 127.0.0.1.

An S3 server (moto's ThreadedMotoServer, with IAM authentication on) and a read-only HTTP
server (the standard library's, over a pushed local remote) run in this process on loopback
ports the OS picks, and stop when the module ends. One origin repository runs a small study
once and pushes it; every test then works in clones of it, as teammates would.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
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

from tests.conftest import ROOT, tiny_raw

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
BUCKET = "noisereg-team"
OUTPUT_DIRS = ("data", "models", "metrics", "plots", "reports")
# moto's first three requests need no signature: they create the team's IAM user, its key
# and its policy. Every request after them must be signed with that key.
UNAUTHENTICATED_SETUP_REQUESTS = 3


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


def small_raw() -> dict[str, Any]:
    """The tiny study cut to two variants: a full run in well under a minute."""
    raw = tiny_raw(yaml.safe_load((ROOT / "params.yaml").read_text()))
    raw["variants"] = {k: raw["variants"][k] for k in ("baseline", "input_noise")}
    raw["grid"].update(hidden_units=[8], stddevs=[0.0, 0.5])
    raw["sweep"].update(placements=["input"])
    raw["benefit_map"].update(datasets=["xor"], sizes=[6])
    raw["regularizers"].update(datasets=[])
    return raw


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
def origin(tmp_path_factory: pytest.TempPathFactory, s3: S3) -> Path:
    """A repository that ran the small study and pushed code (bare git) and data (S3)."""
    base = tmp_path_factory.mktemp("sharing")
    repo = base / "origin"
    repo.mkdir()
    for name in ("noisereg", "stages"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "dvc.yaml", repo / "dvc.yaml")
    (repo / "params.yaml").write_text(yaml.safe_dump(small_raw(), sort_keys=False))
    run(base, "git", "init", "-q", "--bare", "-b", "main", str(base / "team.git"))
    run(repo, "git", "init", "-q", "-b", "main")
    run(repo, "git", "config", "user.email", "test@example.invalid")
    run(repo, "git", "config", "user.name", "test")
    dvc(repo, "init", "-q")
    # The shared remote is committed; its credentials are not (docs/sharing.md).
    dvc(repo, "remote", "add", "-d", "team", f"s3://{BUCKET}/noisereg")
    dvc(repo, "remote", "modify", "team", "endpointurl", s3.url)
    dvc(repo, "remote", "modify", "team", "verify", "true")
    use_credentials(repo, s3)
    dvc(repo, "repro")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "small study")
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
    print(f"dvc pull of the small study: {time.monotonic() - started:.1f} s")
    assert output_hashes(teammate) == output_hashes(origin)
    assert "Data and pipelines are up to date" in dvc(teammate, "status").stdout
    assert ran_stages(dvc(teammate, "repro").stdout) == set()


def test_run_cache_restores_a_teammates_run_instead_of_training(origin: Path, s3: S3) -> None:
    # The origin tries a param value, pushes the run-cache, and goes back.
    params = (origin / "params.yaml").read_text()
    tried = params.replace("input_stddev: 0.1", "input_stddev: 0.3")
    assert tried != params
    (origin / "params.yaml").write_text(tried)
    try:
        assert "train@input_noise" in ran_stages(dvc(origin, "repro").stdout)
        dvc(origin, "push", "--run-cache")
    finally:
        restore(origin)
    teammate = clone(origin, "run-cache", s3)
    dvc(teammate, "pull", "--run-cache")  # the outputs of HEAD and the run history
    (teammate / "params.yaml").write_text(tried)
    # --pull fetches the outputs of the run-cache entry it finds (DVC 3 pulls only the
    # entries themselves with --run-cache).
    log = dvc(teammate, "repro", "--pull").stdout
    assert "Stage 'train@input_noise' is cached - skipping run" in log
    assert ran_stages(log) & {"train@input_noise", "train@baseline", "grid_search"} == set()


def test_experiments_are_pushed_and_pulled(origin: Path, s3: S3) -> None:
    # A training param: `dvc exp run -S` retrains that variant, and the experiment's row and
    # results (not the workspace's) travel to the teammate.
    log = dvc(origin, "exp", "run", "-n", "louder", "-S", "variants.input_noise.input_stddev=0.2")
    assert ran_stages(log.stdout) == {"train@input_noise", "summarize", "report"}
    dvc(origin, "exp", "push", "origin", "louder")
    teammate = clone(origin, "experiments", s3)
    dvc(teammate, "exp", "pull", "origin", "louder")
    shown = dvc(teammate, "exp", "show", "--json").stdout
    assert "louder" in shown and re.search(r'"input_stddev": 0\.2\b', shown)
    dvc(teammate, "exp", "apply", "louder")
    summary = json.loads((teammate / "metrics" / "summary.json").read_text())
    assert summary["variants"]["input_noise"]["noise"] == "input 0.2"
    restore(origin)


def test_queued_experiments_all_succeed(origin: Path, s3: S3) -> None:
    teammate = clone(origin, "queue", s3)
    dvc(teammate, "pull")
    for margin in ("0.005", "0.03"):
        dvc(teammate, "exp", "run", "--queue", "-S", f"report.equivalence_margin={margin}")
    dvc(teammate, "queue", "start", "-j", "2")
    deadline = time.monotonic() + 400
    status = ""
    while time.monotonic() < deadline:
        status = dvc(teammate, "queue", "status").stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            break
        time.sleep(3)
    assert status.count("Success") == 2, status
    shown = json.loads(dvc(teammate, "exp", "show", "--json").stdout)
    text = json.dumps(shown)
    for margin in ("0.005", "0.03"):
        assert re.search(rf'"equivalence_margin": {margin}\b', text), margin
    dvc(teammate, "queue", "stop", check=False)


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
    teammate = clone(origin, "wrong-key", s3)
    use_credentials(teammate, s3, secret="not-the-secret")
    pulled = dvc(teammate, "pull", check=False)
    assert pulled.returncode != 0
    assert "SignatureDoesNotMatch" in pulled.stderr or "Forbidden" in pulled.stderr, pulled.stderr
    assert output_hashes(teammate) == {}  # nothing was checked out
