"""The local stack's AWS emulator: moto's server plus what the local stack needs of it.

Run as `python -m batchform.localstack.emulator --port PORT [--state-file FILE]` (the local stack does).
On top of moto's own server it adds:

* a health route (`/batchform/health`) naming the service, so the local stack can tell its
  own emulator from another program on the same port;
* job containers that run as on AWS: environment, awslogs, log streaming, pulls with the
  account's token (`batchform.localstack.jobcontainers`);
* answers as AWS gives them where moto's differ (`batchform.localstack.motofixes`);
* rules AWS Batch enforces and moto does not (`batchform.localstack.batchrules`);
* Batch's job state change events, EventBridge's SNS targets, SNS subscriptions that wait for
  confirmation and EventBridge Scheduler's expressions, as AWS has them
  (`batchform.localstack.eventrules`);
* ECR's authorization tokens naming the local registry, with the password its guard asks for
  (`batchform.localstack.registryauth`), and its DescribeImages listing what that registry holds
  (`batchform.localstack.registryimages`);
* a log line for every request that fails on the emulator's side (an answer of 500 or more, an
  exception, a client gone before its answer), each starting with REQUEST_FAILED, so a failed
  test run can show what went wrong behind a client's retries (`LocalStack.request_failures`);
* a route that forgets one account (`DELETE /batchform/accounts/<id>`) in every service, the
  others untouched: a throwaway account a test made goes without a `terraform destroy`, whose
  provider waits a minute on a job queue alone;
* an optional state snapshot: on SIGTERM each service's state is pickled to --state-file and
  loaded again at the next start, which is how `local.down --keep` keeps the emulator's data.
  A service whose state cannot be pickled (for example one holding a running thread) is
  left out and named in the log.
"""

from __future__ import annotations

import argparse
import copyreg
import json
import logging
import os
import pickle  # noqa: S403 - the snapshot is written and read only by this local process
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ..settings import write_atomic
from . import batchrules, eventrules, jobcontainers, motofixes, registryauth, registryimages
from .registryauth import LocalRegistry

log = logging.getLogger("batchform.localstack.emulator")

HEALTH_PATH = "/batchform/health"
ACCOUNTS_PATH = "/batchform/accounts/"
ACCOUNT_ID = re.compile(r"[0-9]{12}")
SERVICE_NAME = "batchform-emulator"
REQUEST_FAILED = "request failed:"


def _fresh_lock(reentrant: bool) -> Any:
    return threading.RLock() if reentrant else threading.Lock()


# Backends guard their data with locks; a restored backend gets new, unheld ones.
copyreg.pickle(type(threading.Lock()), lambda _lock: (_fresh_lock, (False,)))
copyreg.pickle(type(threading.RLock()), lambda _lock: (_fresh_lock, (True,)))


def _backend_dicts() -> dict[str, Any]:
    from moto.core.base_backend import BackendDict

    return {bd.service_name: bd for bd in BackendDict._instances}  # noqa: SLF001


def save_state(path: Path) -> None:
    """Pickle every service backend that pickles, one entry per service, atomically."""
    snapshot: dict[str, bytes] = {}
    for name, backends in _backend_dicts().items():
        try:
            snapshot[name] = pickle.dumps(dict(backends))
        except Exception as exc:  # noqa: BLE001 - report and keep the services that do pickle
            log.warning("state of %s not kept: %s", name, exc)
    write_atomic(path, pickle.dumps(snapshot))
    log.warning("state of %d services saved to %s", len(snapshot), path)


def load_state(path: Path) -> None:
    if not path.exists():
        return
    from moto.backends import get_backend
    from moto.core.base_backend import BackendDict

    snapshot: dict[str, bytes] = pickle.loads(path.read_bytes())  # noqa: S301 - our own file
    for name, blob in snapshot.items():
        try:
            backends = get_backend(name)  # type: ignore[call-overload]
            backends.update(pickle.loads(blob))  # noqa: S301
            # moto only tracks (and so only saves and resets) backends that were used.
            if backends not in BackendDict._instances:  # noqa: SLF001
                BackendDict._instances.append(backends)  # noqa: SLF001
        except Exception as exc:  # noqa: BLE001
            log.warning("state of %s not restored: %s", name, exc)
    log.warning("state of %d services restored from %s", len(snapshot), path)


def drop_account(account_id: str) -> list[str]:
    """Forget all that `account_id` holds in every service, as if it had never been used; returns
    the services that held something. moto's own reset is all accounts at once, and S3's closes
    the objects of every account, so this releases only what the account's own backends hold.

    Its access keys (its sessions' too) are kept: moto tells an account by its key, and takes an
    unknown key for its default account, so a late request with them lands in the empty account."""
    from moto.batch.models import BatchBackend
    from moto.core.base_backend import BackendDict, backend_lock
    from moto.iam.models import IAMBackend, iam_backends
    from moto.s3.models import S3Backend, s3_backends

    dropped, keys = [], {}
    with backend_lock:
        for backends in list(BackendDict._instances):  # noqa: SLF001
            if account_id not in dict.keys(backends):  # a look-up of BackendDict would make one
                continue
            for where, backend in dict.items(dict.__getitem__(backends, account_id)):
                if isinstance(backend, BatchBackend):
                    for job in backend._jobs.values():  # noqa: SLF001 - its threads end as moto's reset ends them
                        job.stop = True
                if isinstance(backend, S3Backend):
                    for bucket in backend.buckets.values():
                        for key in bucket.keys.values():
                            if hasattr(key, "dispose"):
                                key.dispose()
                        for part in bucket.multiparts.values():
                            part.dispose()
                        s3_backends.bucket_accounts.pop(bucket.name, None)
                if isinstance(backend, IAMBackend):
                    keys[where] = backend.access_keys  # where: IAM's partition
            del backends[account_id]
            dropped.append(backends.service_name)
        for partition, access_keys in keys.items():
            iam_backends[account_id][partition].access_keys.update(access_keys)
    return sorted(dropped)


def install_extensions(registry: LocalRegistry | None = None) -> None:
    """Every extension; with `registry`, ECR's tokens are that registry's, its DescribeImages lists
    what that registry holds, and job images are pulled from it with the tokens."""
    jobcontainers.install(registry)
    motofixes.install()
    batchrules.install()
    eventrules.install()
    if registry:
        registryauth.answer_with_the_local_registry(registry)
        registryimages.answer_from_the_local_registry(registry)


def describe_request(environ: dict[str, Any]) -> str:
    """The request as a log names it: method, path and, for JSON protocols, the operation."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    return " ".join(filter(None, (environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), target)))


def make_app() -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    moto_app = DomainDispatcherApplication(create_backend_app)
    health = json.dumps({"service": SERVICE_NAME, "pid": os.getpid()}).encode()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [health]
        if path.startswith(ACCOUNTS_PATH) and environ.get("REQUEST_METHOD") == "DELETE":
            account_id = path[len(ACCOUNTS_PATH) :]
            if not ACCOUNT_ID.fullmatch(account_id):
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [json.dumps({"error": f"not an account id: {account_id!r} (12 digits)"}).encode()]
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"account": account_id, "services": drop_account(account_id)}).encode()]

        def answer(status: str, headers: Any, *exc_info: Any) -> Any:
            if status[:1] == "5":
                log.warning("%s %s answered %s", REQUEST_FAILED, describe_request(environ), status)
            return start_response(status, headers, *exc_info)

        try:
            return moto_app(environ, answer)
        except Exception as exc:
            log.warning(
                "%s %s raised %s: %s", REQUEST_FAILED, describe_request(environ), type(exc).__name__, exc
            )
            raise

    return app


def request_handler() -> type:
    """moto's request handler, logging a client that went away before its answer was written
    (the request was served: a client's retry of it may meet what it made)."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class Handler(MotoRequestHandler):
        def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
            what = describe_request(environ) if environ else "a request"
            log.warning("%s %s: connection dropped before its answer (%s)", REQUEST_FAILED, what, error)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m batchform.localstack.emulator", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--state-file", type=Path, help="keep state here across restarts")
    parser.add_argument("--registry-url", help="the local registry, named in ECR's authorization tokens")
    parser.add_argument("--registry-key-file", type=Path, help="the key of the tokens the registry asks for")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.environ.setdefault("MOTO_PORT", str(args.port))
    os.environ.setdefault("MOTO_HOST", args.host)

    from werkzeug.serving import run_simple

    key = registryauth.read_auth_key(args.registry_key_file) if args.registry_key_file else None
    install_extensions(LocalRegistry(args.registry_url, key) if args.registry_url else None)
    if args.state_file:
        load_state(args.state_file)

    def stop(_signum: int, _frame: Any) -> None:
        if args.state_file:
            save_state(args.state_file)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    run_simple(args.host, args.port, make_app(), threaded=True, request_handler=request_handler())


if __name__ == "__main__":
    main()
