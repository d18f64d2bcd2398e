"""Faults on purpose: a proxy on loopback that makes the registry or the AWS emulator misbehave.

Put between batchform and a service, it shows that a push, a submit or a follow survives what
real services do under load: throttling (429), server errors (500, 503), and connections that
drop or lose their answer. It is the local stack's streaming proxy (`batchform.localstack.proxy`)
with a fault plan in front of the forward; requests the plan leaves alone pass through unchanged.

    plan = FaultPlan(rate=1 / 3, faults=(Fault("refuse", 500), Fault("refuse", 503)), style="registry")
    with FaultProxy.running("http://127.0.0.1:5000", plan) as proxy:
        ...  # point the client at proxy.url; proxy.injected counts what was done to it
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from .proxy import ProxyHandler, ProxyServer, Upstream, UpstreamError

# An upload session's id in a registry path (distribution uses a UUID, some registries 32 hex digits).
_SESSION_ID = re.compile(r"(?<=/uploads/)[0-9a-fA-F-]{32,36}(?=/|$)")

FaultKind = Literal["refuse", "lose", "drop"]

# How each service words an error, so its clients react as they would to the real thing.
REGISTRY_CODES = {429: "TOOMANYREQUESTS", 500: "UNKNOWN", 502: "UNAVAILABLE", 503: "UNAVAILABLE"}
AWS_CODES = {429: "ThrottlingException", 500: "InternalFailure", 502: "BadGateway", 503: "ServiceUnavailable"}


@dataclass(frozen=True)
class Fault:
    """What happens to a request the plan picks.

    refuse: answer `status` without forwarding (the service never saw it);
    lose:   forward it, then answer `status` (the service did the work, the client cannot know);
    drop:   close the connection without an answer.
    """

    kind: FaultKind
    status: int = 503


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Any

    @property
    def operation(self) -> str:
        """The AWS operation, lower case (`submitjob`, `getlogevents`), or the path's last segment."""
        target = self.headers.get("X-Amz-Target") or ""
        if target:
            return target.rsplit(".", 1)[-1].lower()
        return self.path.rstrip("/").rsplit("/", 1)[-1].lower()


def everything(_request: Request) -> bool:
    return True


@dataclass
class FaultPlan:
    """Which requests fail and how: each matching request fails with probability `rate`,
    taking the faults in turn. Seeded, so a run can be repeated.

    once: faults are transient, as most of a real service's are: a request that failed goes
    through when tried again. The same request is the same method and path, an upload
    session's id aside (a retried upload opens a new session).
    """

    faults: Sequence[Fault] = (Fault("refuse", 500), Fault("refuse", 503), Fault("refuse", 429))
    rate: float = 1 / 3
    match: Callable[[Request], bool] = everything
    style: Literal["registry", "aws"] = "registry"
    seed: int = 0
    once: bool = False
    _failed: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False)
    _random: random.Random = field(init=False, repr=False)
    _turn: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1 or not self.faults:
            raise ValueError("a fault plan needs faults and a rate from 0 to 1")
        self._random = random.Random(self.seed)  # noqa: S311 - fault timing, not a secret

    def pick(self, request: Request) -> Fault | None:
        if not self.match(request):
            return None
        with self._lock:
            key = (request.method, _SESSION_ID.sub("*", request.path.split("?", 1)[0]))
            if self.once and key in self._failed:
                return None
            if self._random.random() >= self.rate:
                return None
            if self.once:
                self._failed.add(key)
            fault = self.faults[self._turn % len(self.faults)]
            self._turn += 1
            return fault


class FaultProxyServer(ProxyServer):
    def __init__(self, address: tuple[str, int], upstream: Upstream, plan: FaultPlan):
        self.plan = plan
        self.seen: Counter[str] = Counter()  # matching requests, by operation
        self.calls: list[tuple[float, str]] = []  # (monotonic time, operation) of matching requests
        self.injected: Counter[str] = Counter()  # faults, by "kind status"
        self.on_request: Callable[[Request], None] | None = None
        self._count_lock = threading.Lock()
        super().__init__(address, upstream)

    @staticmethod
    def handler() -> type[BaseHTTPRequestHandler]:
        return FaultHandler

    def record(self, request: Request, fault: Fault | None) -> None:
        with self._count_lock:
            if self.plan.match(request):
                self.seen[request.operation] += 1
                self.calls.append((time.monotonic(), request.operation))
            if fault is not None:
                self.injected[f"{fault.kind} {fault.status}"] += 1

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    @property
    def total_injected(self) -> int:
        with self._count_lock:
            return sum(self.injected.values())


class FaultHandler(ProxyHandler):
    server_version = "batchform-faults"
    server: FaultProxyServer
    title = "the fault proxy"

    def _route(self, host: str, path: str, framing: str, length: int) -> None:
        request = Request(self.command, path, self.headers)
        if self.server.on_request is not None:
            self.server.on_request(request)
        fault = self.server.plan.pick(request)
        self.server.record(request, fault)
        if fault is None:
            self._forward(host, framing, length)
        elif fault.kind == "drop":
            self.close_connection = True  # nothing said: the client sees the connection end
        elif fault.kind == "lose":
            self._forward_and_forget(host, framing, length)
            self._fail(fault.status)
        else:
            self._fail(fault.status)

    def _forward_and_forget(self, host: str, framing: str, length: int) -> None:
        conn = self.server.upstream.connection()
        try:
            response = self._send_upstream(
                conn,
                self._forward_headers(host),
                self._body(framing, length),
                None if framing == "chunked" else length,
            )
            response.read()
        except UpstreamError:
            pass  # the service did not get it after all; the client's answer is the same
        finally:
            conn.close()

    def _fail(self, status: int) -> None:
        if self.server.plan.style == "registry":
            code = REGISTRY_CODES.get(status, "UNKNOWN")
            self._error(status, code, f"injected fault: {code.lower()}")
            return
        code = AWS_CODES.get(status, "InternalFailure")
        body = json.dumps({"__type": code, "message": f"injected fault: {code}"}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("x-amzn-ErrorType", code)
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.send_header("Content-Length", str(len(body)))
            if self._body_pending:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


class FaultProxy:
    """A fault proxy serving on a free loopback port in a background thread."""

    def __init__(self, upstream: str, plan: FaultPlan):
        self.server = FaultProxyServer(("127.0.0.1", 0), Upstream.parse(upstream), plan)
        self._thread = threading.Thread(target=self.server.serve_forever, name="fault-proxy", daemon=True)

    @classmethod
    @contextlib.contextmanager
    def running(cls, upstream: str, plan: FaultPlan) -> Iterator[FaultProxyServer]:
        proxy = cls(upstream, plan)
        proxy._thread.start()
        try:
            yield proxy.server
        finally:
            proxy.server.shutdown()
            proxy.server.server_close()
