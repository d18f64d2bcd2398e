"""Registry credentials come from ECR's authorization token and are renewed before they expire."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import requests
from batchform import registry as registry_module
from batchform import retry
from batchform.errors import UserError
from batchform.registry import FALLBACK_LIFETIME, RENEW_MARGIN, Registry


class FakeEcr:
    """GetAuthorizationToken answering tokens that expire when told; counts the calls."""

    def __init__(self, lifetime: float | None, endpoint: str = "https://example"):
        self.lifetime, self.endpoint, self.calls = lifetime, endpoint, 0

    def get_authorization_token(self) -> dict:
        self.calls += 1
        token = base64.b64encode(f"AWS:secret-{self.calls}".encode()).decode()
        data = {"authorizationToken": token, "proxyEndpoint": self.endpoint}
        if self.lifetime is not None:
            data["expiresAt"] = datetime.fromtimestamp(CLOCK.now + self.lifetime, UTC)
        return {"authorizationData": [data]}


CLOCK = SimpleNamespace(now=1_800_000_000.0)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module.time, "time", lambda: CLOCK.now)


def _registry(ecr: FakeEcr) -> Registry:
    account = SimpleNamespace(
        name="dev",
        registry_url="https://111111111111.dkr.ecr.eu-west-1.amazonaws.com",
        client=lambda service: ecr,
    )
    return Registry(account)  # type: ignore[arg-type]


def test_a_token_is_reused_until_shortly_before_it_expires_then_renewed() -> None:
    ecr = FakeEcr(lifetime=12 * 3600)
    registry = _registry(ecr)
    assert registry.credentials().password == "secret-1"
    CLOCK.now += 12 * 3600 - RENEW_MARGIN - 1
    assert registry.credentials().password == "secret-1"
    CLOCK.now += 2  # a long push later: inside the renewal margin
    assert registry.credentials().password == "secret-2"
    assert ecr.calls == 2


def test_a_token_whose_expiry_is_already_past_is_trusted_for_a_while_not_refetched_in_a_loop() -> None:
    ecr = FakeEcr(lifetime=-10 * 365 * 86400)  # the emulator answers an expiry in 2015
    registry = _registry(ecr)
    for _ in range(100):
        registry.credentials()
    assert ecr.calls == 1
    CLOCK.now += FALLBACK_LIFETIME + 1
    registry.credentials()
    assert ecr.calls == 2


def test_a_registry_that_says_the_token_expired_gets_a_new_one() -> None:
    ecr = FakeEcr(lifetime=12 * 3600)
    registry = _registry(ecr)
    registry.credentials()
    registry.forget_credentials()
    assert registry.credentials().password == "secret-2"


def test_the_password_never_appears_in_the_credentials_text() -> None:
    credentials = _registry(FakeEcr(lifetime=3600)).credentials()
    assert "secret" not in repr(credentials) and "secret" not in str(credentials)
    assert credentials.docker_auth() == {"username": "AWS", "password": "secret-1"}


CHINA_REGISTRY = "https://111111111111.dkr.ecr.cn-north-1.amazonaws.com.cn"


def test_the_registry_is_where_the_authorization_tokens_proxy_endpoint_says_even_in_china(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AWS-FIDELITY: "Registry host names: take the registry from the authorization token's
    `proxyEndpoint`; the China partitions use `amazonaws.com.cn`." No host is made up from the region."""
    from batchform.accounts import Account, Accounts

    ecr = FakeEcr(lifetime=3600, endpoint=CHINA_REGISTRY)
    monkeypatch.setattr(Account, "client", lambda _self, service, retries=True: ecr)
    china = Accounts({"accounts": {"cn": {"account_id": "111111111111", "region": "cn-north-1"}}}).get("cn")
    registry = Registry(china)
    sent: list[str] = []

    def request(method: str, url: str, **_kwargs: object) -> SimpleNamespace:
        sent.append(f"{method} {url}")
        return SimpleNamespace(status_code=404, headers={}, close=lambda: None)

    monkeypatch.setattr(registry._http, "request", request)  # noqa: SLF001
    assert china.registry_url == CHINA_REGISTRY
    assert registry.reference("hello", 7) == "111111111111.dkr.ecr.cn-north-1.amazonaws.com.cn/hello:7"
    assert registry.manifest("hello", 7) is None
    assert sent == [f"GET {CHINA_REGISTRY}/v2/hello/manifests/7"]


def _answers(monkeypatch: pytest.MonkeyPatch, registry: Registry, *answers: object) -> list[str]:
    """The registry answers these in turn (a status, (status, Retry-After) or an exception); returns
    the requests sent, and records the pauses between them in registry.slept."""
    sent: list[str] = []
    queue = list(answers)

    def request(method: str, url: str, **_kwargs: object) -> SimpleNamespace:
        sent.append(f"{method} {url}")
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, after = answer if isinstance(answer, tuple) else (answer, None)
        closed: list[bool] = []
        return SimpleNamespace(
            status_code=status,
            headers={"Retry-After": after} if after else {},
            close=lambda: closed.append(True),
            closed=closed,
        )

    slept: list[float] = []
    monkeypatch.setattr(registry._http, "request", request)  # noqa: SLF001
    monkeypatch.setattr(registry_module.time, "sleep", slept.append)
    registry.slept = slept  # type: ignore[attr-defined]
    return sent


def test_throttling_and_server_errors_are_tried_again_waiting_as_long_as_retry_after_asks_within_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = _registry(FakeEcr(lifetime=3600))
    sent = _answers(monkeypatch, registry, (429, "3"), (503, "3600"), requests.ConnectionError("reset"), 200)
    assert registry._get("/v2/hello/tags/list").status_code == 200  # noqa: SLF001
    assert len(sent) == 4
    slept = registry.slept  # type: ignore[attr-defined]
    assert slept[0] >= 3  # as asked
    assert slept[1] == retry.BACKOFF_CAP  # asked for an hour: the policy's cap instead
    assert 0 <= slept[2] <= retry.BACKOFF_CAP  # no Retry-After: the policy's backoff


def test_a_registry_still_failing_after_every_try_gives_its_last_answer_and_a_stream_is_sent_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = _registry(FakeEcr(lifetime=3600))
    sent = _answers(monkeypatch, registry, *[503] * registry_module.ATTEMPTS)
    assert registry._get("/v2/hello/tags/list").status_code == 503  # noqa: SLF001
    assert len(sent) == registry_module.ATTEMPTS
    sent = _answers(monkeypatch, registry, 503)
    assert registry._request("PUT", "/v2/hello/blobs/uploads/x", replayable=False).status_code == 503  # noqa: SLF001
    assert len(sent) == 1
    _answers(monkeypatch, registry, requests.ConnectionError("refused"))
    with pytest.raises(UserError, match="unreachable"):
        registry._request("PUT", "/v2/hello/blobs/uploads/x", replayable=False)  # noqa: SLF001
    _answers(monkeypatch, registry, 404)
    assert registry._get("/v2/hello/tags/list").status_code == 404  # noqa: SLF001 - an answer, not a failure
