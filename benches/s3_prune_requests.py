#!/usr/bin/env python3
"""Requests a prune's repack makes on S3 (moto on loopback), for one or more `hearth` binaries.

Usage (as in docs/benchmarks.md, "Prune's repack on S3: requests"):

    HEARTH_PYTHON="$(scripts/python-env)" \
    "$HEARTH_PYTHON" benches/s3_prune_requests.py --gen target/release/examples/gen \
        --bytes 300000000 --hearth before=/path/to/old/hearth --hearth after=target/release/hearth

For each binary, in its own prefix of one bucket of one `moto_server`, the same household is
backed up (day 1), advanced one night with the test kit's generator (`gen OUT --day 1`) and
backed up again (day 2); then `forget --keep-last 1` removes every day-1 snapshot and
`prune --max-unused 0` repacks every pack that holds a blob only day 1 used. Printed per
binary: the blobs the prune repacked (its `--json` report) and the requests moto answered while
it ran, by method (one log line each), with the ranged GETs per repacked blob.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BUCKET = "hearth-prune"
PASSWORD = "correct horse battery staple"
# moto checks no signature, but refuses requests without an Authorization header.
MOTO_AUTH = (
    "AWS4-HMAC-SHA256 Credential=hearthbenchaccesskey/20260101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=" + "0" * 64
)
REQUEST = re.compile(r'"(GET|PUT|POST|DELETE|HEAD) ')
# werkzeug colours a request's line by its status (a ranged GET's 206, a DELETE's 204).
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(work):
    moto = Path(os.environ.get("HEARTH_PYTHON", sys.executable)).parent / "moto_server"
    port = free_port()
    log = open(work / "moto.log", "w")
    # Unbuffered, so that each request's line is in the log when the command that made it ends.
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                             stderr=log, env=env)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    put = urllib.request.Request(
        f"http://127.0.0.1:{port}/{BUCKET}", method="PUT", headers={"Authorization": MOTO_AUTH}
    )
    urllib.request.urlopen(put, timeout=10)
    return child, port, work / "moto.log"


def count(log, since):
    """Requests logged after the first `since` bytes of the log, by method."""
    with open(log, "rb") as f:
        f.seek(since)
        text = f.read().decode(errors="replace")
    counts = {}
    for line in text.splitlines():
        m = REQUEST.search(ANSI.sub("", line))
        if m:
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def hearth(binary, env, *args):
    out = subprocess.run([binary, *args], env=env, capture_output=True, text=True)
    if out.returncode not in (0, 3):
        sys.exit(f"{binary} {' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    return out.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gen", required=True, help="the test kit's generator (examples/gen)")
    ap.add_argument("--bytes", type=int, default=300_000_000)
    ap.add_argument("--hearth", action="append", required=True, help="LABEL=PATH, repeatable")
    ap.add_argument("--work", type=Path, help="default: a temporary folder")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="hearth-s3-prune-"))
    work.mkdir(parents=True, exist_ok=True)
    moto, port, log = start_moto(work)
    try:
        for spec in args.hearth:
            label, binary = spec.split("=", 1)
            household = work / f"household-{label}"
            shutil.rmtree(household, ignore_errors=True)
            subprocess.run([args.gen, str(household), "bench", str(args.bytes)], check=True,
                           capture_output=True)
            env = dict(os.environ, HEARTH_PASSWORD=PASSWORD,
                       HEARTH_REPO=f"s3:http://127.0.0.1:{port}/{BUCKET}/{label}",
                       HEARTH_CACHE_DIR=str(work / f"cache-{label}"),
                       AWS_ACCESS_KEY_ID="hearthbenchaccesskey",
                       AWS_SECRET_ACCESS_KEY="hearthbenchsecretkey", AWS_REGION="us-east-1")
            hearth(binary, env, "init")
            hearth(binary, env, "backup", str(household))
            subprocess.run([args.gen, str(household), "--day", "1"], check=True, capture_output=True)
            hearth(binary, env, "backup", str(household))
            hearth(binary, env, "forget", "--keep-last", "1")
            since = log.stat().st_size
            started = time.monotonic()
            report = json.loads(hearth(binary, env, "--json", "prune", "--max-unused", "0"))
            seconds = time.monotonic() - started
            time.sleep(1)  # the last log lines
            c = count(log, since)
            blobs = report.get("blobs_repacked", 0)
            gets = c.get("GET", 0)
            print(f"{label}: {blobs} blobs repacked, {report.get('packs_written')} packs written, "
                  f"{seconds:.1f} s; requests during prune: {dict(sorted(c.items()))}; "
                  f"GET per repacked blob {gets / max(blobs, 1):.3f}", flush=True)
            shutil.rmtree(household, ignore_errors=True)
    finally:
        moto.kill()
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
