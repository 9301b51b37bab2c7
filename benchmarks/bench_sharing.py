"""Time `dvc pull` of the committed study from an S3 server on 127.0.0.1 into a fresh clone.

Starts moto's S3 server in this process (loopback, a port the OS picks), pushes every
output of the committed dvc.lock from this checkout's cache to it, then clones the
repository afresh and times `dvc pull`. Prints the size pushed, the pull time, and whether
the clone is then up to date (`dvc status`). Needs the outputs in this checkout's cache
(`make repro` first). Run: .venv/bin/python benchmarks/bench_sharing.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BUCKET = "bench"


def dvc(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    result = subprocess.run(
        [str(BIN / "dvc"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800
    )
    if result.returncode != 0:
        raise SystemExit(f"dvc {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def use_remote(repo: Path, url: str) -> None:
    dvc(repo, "remote", "add", "--local", "-f", "bench", f"s3://{BUCKET}/noisereg")
    dvc(repo, "remote", "modify", "--local", "bench", "endpointurl", url)


def main() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        s3 = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        s3.create_bucket(Bucket=BUCKET)
        with tempfile.TemporaryDirectory() as temp:
            pusher, puller = Path(temp) / "pusher", Path(temp) / "puller"
            for clone in (pusher, puller):
                subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
                use_remote(clone, url)
            # The pusher reads this checkout's cache: nothing is copied or retrained.
            dvc(pusher, "cache", "dir", "--local", str(ROOT / ".dvc" / "cache"))
            started = time.perf_counter()
            dvc(pusher, "push", "-r", "bench")
            pushed = time.perf_counter() - started
            objects = s3.list_objects_v2(Bucket=BUCKET, MaxKeys=10_000).get("Contents", [])
            size = sum(o["Size"] for o in objects)
            print(f"pushed: {len(objects)} objects, {size / 2**20:.1f} MiB in {pushed:.1f} s")
            started = time.perf_counter()
            dvc(puller, "pull", "-r", "bench")
            pulled = time.perf_counter() - started
            status = dvc(puller, "status").strip().splitlines()[-1]
            print(f"dvc pull into a fresh clone: {pulled:.1f} s; then dvc status: {status}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
