"""Fetch a script or a zip archive from S3 or HTTPS and run it (AWS Batch's fetch-and-run pattern).

Environment: BATCH_FILE_URL (s3://bucket/key, https://... or a key in the account's data bucket,
named by DATA_BUCKET: `jobs/report.sh` is s3://$DATA_BUCKET/jobs/report.sh), BATCH_FILE_TYPE
(script or zip; default zip when the URL's path ends with .zip). The job's command arguments go
to the script; for a zip the first one names the script inside the archive (default run.sh).

Fan-out (`invoke submit JOB --each FILE`): the script gets its own item as BATCHFORM_ITEM,
whichever of the ways in images/README.md it came.

Exit codes: the script's own (128+N when killed by signal N), 2 bad input, 3 download failed,
126/127 the script could not be started.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import boto3
import botocore.exceptions

PROG = "fetch-and-run"
URL_FORMAT = "s3://bucket/key, https://... or a key in DATA_BUCKET"
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
DOWNLOAD_TIMEOUT = 60
DOWNLOAD_ERRORS = (
    OSError,
    http.client.HTTPException,
    botocore.exceptions.BotoCoreError,
    botocore.exceptions.ClientError,
)


class Failure(Exception):
    """Stops the run with one line on stderr and an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def log(message: str) -> None:
    print(f"{PROG}: {message}", flush=True)


def shown(url: str) -> str:
    """The URL without user info or query, which may carry credentials (presigned URLs)."""
    if url.startswith("s3://"):
        return url
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", "")) + ("?…" if parts.query else "")


def in_data_bucket(variable: str, value: str, environ: Mapping[str, str]) -> str:
    """The value as a URL: one without a scheme is a key in the data bucket DATA_BUCKET names."""
    if SCHEME.match(value):
        return value
    if value.startswith("/"):
        raise Failure(f"{variable} {value} starts with /, but keys in the data bucket do not", 2)
    bucket = environ.get("DATA_BUCKET", "").strip()
    if not bucket:
        raise Failure(f"{variable} {value} is a key in the data bucket, but DATA_BUCKET is unset", 2)
    return f"s3://{bucket}/{value}"


def parse_url(url: str) -> tuple[str, str, str]:
    """("s3", bucket, key) or ("https", url, path); anything else is bad input."""
    if url.startswith("s3://"):
        bucket, _, key = url[len("s3://") :].partition("/")
        if bucket and key:
            return "s3", bucket, key
    else:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "https" and parts.hostname:
            return "https", url, urllib.parse.unquote(parts.path)
    raise Failure(f"BATCH_FILE_URL must be {URL_FORMAT}, not {shown(url)}", 2)


class HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to https, so a redirect cannot downgrade the download to plain http."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme != "https":
            raise urllib.error.URLError(f"redirect to {shown(newurl)} refused: not https")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download(url: str, target: IO[bytes], environ: Mapping[str, str]) -> None:
    scheme, where, path = parse_url(url)
    log(f"downloading {shown(url)}")
    try:
        if scheme == "s3":
            s3 = boto3.client("s3", endpoint_url=environ.get("AWS_ENDPOINT_URL") or None)
            s3.download_fileobj(where, path, target)
        else:
            context = ssl.create_default_context(
                cafile=environ.get("SSL_CERT_FILE") or None, capath=environ.get("SSL_CERT_DIR") or None
            )
            opener = urllib.request.build_opener(
                urllib.request.HTTPSHandler(context=context), HttpsOnlyRedirects()
            )
            # The scheme is checked in parse_url: only https reaches here.
            with opener.open(where, timeout=DOWNLOAD_TIMEOUT) as response:  # noqa: S310
                shutil.copyfileobj(response, target)
        target.flush()
    except DOWNLOAD_ERRORS as exc:
        raise Failure(f"cannot download {shown(url)}: {exc}", 3) from exc


def inside(root: Path, name: str, what: str) -> Path:
    """root/name, refusing absolute names and names that lead out of root."""
    target = (root / name).resolve()
    if Path(name).is_absolute() or not target.is_relative_to(root.resolve()):
        raise Failure(f"{what} {name!r} points outside the archive's directory; refused", 2)
    return target


def extract(archive: IO[bytes], root: Path, url: str) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            # Every name is checked before anything is written, so a refused archive leaves no trace.
            for member in members:
                inside(root, member.filename, f"BATCH_FILE_URL {shown(url)}: entry")
            for member in members:
                written = Path(zf.extract(member, root))
                # zipfile drops permission bits; keep the executable ones the archive recorded.
                if not member.is_dir() and (member.external_attr >> 16) & 0o111:
                    written.chmod(0o700)
    except zipfile.BadZipFile as exc:
        raise Failure(f"BATCH_FILE_URL {shown(url)} is not a zip archive ({exc})", 2) from exc


def run(script: Path, args: list[str], cwd: Path, environ: Mapping[str, str]) -> int:
    with script.open("rb") as f:
        shebang = f.read(2) == b"#!"
    command = [str(script), *args] if shebang else ["/bin/sh", str(script), *args]
    log(f"running {script.name} with {len(args)} argument(s)")
    try:
        # The command is the fetched script and the job's own arguments, without a shell.
        child = subprocess.Popen(command, cwd=cwd, env=dict(environ))  # noqa: S603
    except FileNotFoundError as exc:
        raise Failure(f"cannot start {command[0]}: {exc.strerror}", 127) from exc
    except OSError as exc:
        raise Failure(f"cannot start {command[0]}: {exc.strerror}", 126) from exc
    # As the container's main process we receive `docker stop`'s SIGTERM; the script should get it.
    forwarded = (signal.SIGTERM, signal.SIGINT)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {
            sig: signal.signal(sig, lambda signum, _frame: child.send_signal(signum)) for sig in forwarded
        }
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


def fetch_and_run(argv: list[str], environ: Mapping[str, str]) -> int:
    url = environ.get("BATCH_FILE_URL", "").strip()
    if not url:
        raise Failure(f"BATCH_FILE_URL is required ({URL_FORMAT})", 2)
    url = in_data_bucket("BATCH_FILE_URL", url, environ)
    _, _, path = parse_url(url)
    kind = environ.get("BATCH_FILE_TYPE", "").strip().lower() or (
        "zip" if path.lower().endswith(".zip") else "script"
    )
    if kind not in ("script", "zip"):
        raise Failure(f"BATCH_FILE_TYPE must be script or zip, not {kind!r}", 2)
    args = argv[1:]

    root = Path(tempfile.mkdtemp(prefix=f"{PROG}-"))
    try:
        if kind == "script":
            name = Path(path).name
            script = root / (name if name not in ("", ".", "..") else "script")
            with script.open("wb") as target:
                download(url, target, environ)
            script.chmod(0o700)
        else:
            with tempfile.TemporaryFile() as archive:
                download(url, archive, environ)
                archive.seek(0)
                extract(archive, root, url)
            if args:
                script, args = inside(root, args[0], "the first command argument"), args[1:]
                if not script.is_file():
                    raise Failure(
                        f"{argv[1]!r}, named by the first command argument, is not in the archive", 2
                    )
            else:
                script = root / "run.sh"
                if not script.is_file():
                    raise Failure("the archive has no run.sh and no command argument names its script", 2)
            script.chmod(0o700)
        code = run(script, args, root, with_item(environ))
        log(f"{script.name} exited with {code}")
        return code
    finally:
        shutil.rmtree(root, ignore_errors=True)


def stored_items(url: str, environ: Mapping[str, str]) -> str:
    """The text of the object BATCHFORM_ITEMS_URL names (a JSON array of this job's items)."""
    if not url.startswith("s3://") or not all(url[len("s3://") :].partition("/")[::2]):
        raise Failure(f"BATCHFORM_ITEMS_URL must be s3://bucket/key, not {shown(url)}", 2)
    bucket, _, key = url[len("s3://") :].partition("/")
    log(f"reading the items from {url}")
    try:
        s3 = boto3.client("s3", endpoint_url=environ.get("AWS_ENDPOINT_URL") or None)
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    except (*DOWNLOAD_ERRORS, UnicodeDecodeError) as exc:
        raise Failure(f"cannot read the items from {url}: {exc}", 3) from exc


def with_item(environ: Mapping[str, str]) -> Mapping[str, str]:
    """The environment with BATCHFORM_ITEM set to this job's fan-out item, wherever it came from.

    In order: BATCHFORM_ITEM itself; BATCHFORM_ITEMS, a JSON array, at the array index; the
    JSON array in the object at BATCHFORM_ITEMS_URL at the array index (0 for a plain job).
    """
    if "BATCHFORM_ITEM" in environ:
        return environ
    index = environ.get("AWS_BATCH_JOB_ARRAY_INDEX")
    if "BATCHFORM_ITEMS" in environ:
        if index is None:
            return environ
        where, items = "BATCHFORM_ITEMS", environ["BATCHFORM_ITEMS"]
    elif "BATCHFORM_ITEMS_URL" in environ:
        where = environ["BATCHFORM_ITEMS_URL"]
        items = stored_items(where, environ)
        index = index or "0"
    else:
        return environ
    try:
        found = json.loads(items)
        if not isinstance(found, list):
            raise TypeError
        item = found[int(index)]
    except (ValueError, IndexError, TypeError):
        raise Failure(f"no item {index} in {where}", 2) from None
    return {**environ, "BATCHFORM_ITEM": item if isinstance(item, str) else json.dumps(item)}


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    try:
        return fetch_and_run(argv, environ)
    except Failure as exc:
        print(f"{PROG}: {exc}", file=sys.stderr, flush=True)
        return exc.code


if __name__ == "__main__":
    sys.exit(main())
