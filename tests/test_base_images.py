"""Base-image stand-ins serve the local stack only: an image built on one reaches no other registry.

A stand-in of the test's own (a tiny image made FROM scratch) is recorded for a public name, as
the local stack's baseimages records the ones it makes offline, so no other test's record is touched.
"""

from __future__ import annotations

import io
import random
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from batchform import standins
from batchform.accounts import Account, Accounts, Endpoints
from batchform.errors import UserError
from batchform.images import ImageBuilder, ImageSpec, discover, docker_client
from batchform.localstack.faults import FaultPlan, FaultProxy, Request
from batchform.registry import Registry
from batchform.settings import LocalStackSettings

pytestmark = [pytest.mark.stack, pytest.mark.docker]


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in record of this test alone."""
    file = tmp_path / "base-images.yaml"
    monkeypatch.setattr(standins, "record_file", lambda: file)
    return file


def test_the_record_says_which_registries_each_stand_in_may_serve(record: Path) -> None:
    standins.save({"busybox:1.36": standins.StandIn("busybox:1.36", "local/busybox:1", frozenset({"h:1"}))})
    assert standins.load() == {
        "busybox:1.36": standins.StandIn("busybox:1.36", "local/busybox:1", frozenset({"h:1"}))
    }
    assert discover(["hello"])[0].build_args == {"BASE_IMAGE": "local/busybox:1"}
    # A record written before stand-ins said where they may go lets them go nowhere.
    record.write_text("busybox:1.36: local/busybox:1\n")
    assert standins.load()["busybox:1.36"].serves == frozenset()
    with pytest.raises(UserError, match="stand-in for busybox:1.36"):
        standins.check("hello:1", ["busybox:1.36"], [Accounts().get("local")])


PUBLIC = "example.invalid/base:1"


@pytest.fixture
def stand_in(local_stack, record: Path) -> Iterator[str]:  # noqa: ANN001
    """A stand-in for PUBLIC on the engine, recorded as serving the local stack's registry."""
    local = f"batchform-test-base/{uuid.uuid4().hex[:10]}:1"
    dockerfile = b"FROM scratch\nCOPY base.txt /base.txt\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", dockerfile), ("base.txt", local.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    engine = docker_client()
    engine.images.build(fileobj=buf, custom_context=True, tag=local, rm=True)
    served = frozenset({LocalStackSettings.load().registry_address})
    standins.save({PUBLIC: standins.StandIn(PUBLIC, local, served)})
    yield local
    engine.api.remove_image(local, noprune=True)


@pytest.fixture
def spec(stand_in: str, tmp_path: Path) -> Iterator[ImageSpec]:
    """An image whose base is PUBLIC, built on the stand-in (the build argument discover would set)."""
    name = f"standin-{uuid.uuid4().hex[:10]}"
    context = tmp_path / name
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"ARG BASE_IMAGE={PUBLIC}\nFROM ${{BASE_IMAGE}}\nCOPY data.txt /data.txt\n"
    )
    (context / "data.txt").write_text(name)
    spec = ImageSpec(name=name, context=context, build_args={"BASE_IMAGE": stand_in})
    yield spec
    engine = docker_client()
    for image in engine.images.list(name=spec.local_repository):
        for tag in image.tags:
            engine.api.remove_image(tag, noprune=True)


# An account as production declares it: AWS's own endpoints, ECR's registry. Nothing may reach them.
PROD = Account(
    name="prod",
    account_id="210987654399",
    region="eu-west-1",
    endpoints=Endpoints(
        aws="https://batch.eu-west-1.amazonaws.com",
        registry="https://210987654399.dkr.ecr.eu-west-1.amazonaws.com",
    ),
)


def _watched(builder: ImageBuilder) -> list[str]:
    """Every registry request and docker push the builder makes, in order."""
    sent: list[str] = []
    for name, registry in builder.registries.items():
        request = registry._http.request  # noqa: SLF001

        def counted(method: str, url: str, _request: Any = request, _name: str = name, **kw: Any) -> Any:
            sent.append(f"{_name} {method} {url}")
            return _request(method, url, **kw)

        registry._http.request = counted  # noqa: SLF001
    push = builder.docker.api.push

    def pushed(repository: str, *args: Any, **kw: Any) -> Any:
        sent.append(f"docker push {repository}")
        return push(repository, *args, **kw)

    builder.docker.api.push = pushed
    return sent


def _one_line_refusal(exc: pytest.ExceptionInfo[UserError], image: str, account: str, action: str) -> None:
    message = str(exc.value)
    assert "\n" not in message
    assert f"image {image} is built on a local stand-in for {PUBLIC}" in message
    assert f"build it where {PUBLIC} can be pulled to {action} account {account}" in message


def test_an_image_built_on_a_stand_in_is_pushed_to_the_local_stack_and_refused_by_production(
    local_account, spec: ImageSpec
) -> None:  # noqa: ANN001
    builder = ImageBuilder([local_account], echo=lambda _line: None)
    pushed = builder.push(builder.build(spec))
    assert pushed.uploaded == {"local": 2}  # the local stack is what the stand-in is for
    labels = Registry(local_account).config_labels(spec.name, pushed.build)
    assert labels[standins.LABEL] == PUBLIC  # the image says what it was built on, wherever it goes

    both = ImageBuilder([local_account, PROD], echo=lambda _line: None)
    sent = _watched(both)
    with pytest.raises(UserError) as refused:
        both.build(spec)
    _one_line_refusal(refused, spec.name, "prod", "use it in")
    with pytest.raises(UserError) as refused:
        both.push(both.current(spec))  # the build made earlier, found on the engine
    _one_line_refusal(refused, f"{spec.name}:{pushed.build}", "prod", "push it to")
    # Caught by the image's own label too, whatever the caller believes it was built on.
    with pytest.raises(UserError) as refused:
        both.push(replace(pushed, stand_ins=()))
    _one_line_refusal(refused, f"{spec.name}:{pushed.build}", "prod", "push it to")
    assert [line for line in sent if "prod" in line or "docker push" in line] == []
    assert Registry(local_account).builds(spec.name) == [pushed.build]


@pytest.fixture
def elsewhere(local_stack) -> Iterator[tuple[Account, list[Request]]]:  # noqa: ANN001
    """An account whose registry is at a second address (a proxy in front of the same server)."""
    stack = LocalStackSettings.load()
    seen: list[Request] = []
    with FaultProxy.running(f"http://{stack.registry_address}", FaultPlan(rate=0.0)) as proxy:
        proxy.on_request = seen.append
        account_id = str(random.randint(10**11, 10**12 - 1))
        yield (
            Account(
                name="elsewhere",
                account_id=account_id,
                region="us-east-1",
                role_arn=f"arn:aws:iam::{account_id}:role/batchform-deployer",
                endpoints=Endpoints(
                    aws=stack.emulator_url,
                    registry=f"http://{proxy.address}/{account_id}",
                    emulator_credentials=True,
                ),
            ),
            seen,
        )


def test_a_registry_the_stand_in_does_not_serve_receives_neither_a_push_nor_a_promotion(
    local_account, spec: ImageSpec, elsewhere: tuple[Account, list[Request]]
) -> None:  # noqa: ANN001
    account, seen = elsewhere
    local = ImageBuilder([local_account], echo=lambda _line: None)
    pushed = local.push(local.build(spec))

    builder = ImageBuilder([account], echo=lambda _line: None)
    with pytest.raises(UserError) as refused:
        builder.push(pushed)
    _one_line_refusal(refused, f"{spec.name}:{pushed.build}", "elsewhere", "push it to")
    with pytest.raises(UserError) as refused:
        Registry(account).copy_image(Registry(local_account), spec.name, pushed.build)
    _one_line_refusal(refused, f"{spec.name}:{pushed.build}", "elsewhere", "promote it to")
    assert seen == []  # not one request reached that registry

    # Between accounts the local stack serves, a promotion goes ahead.
    other = Accounts().get("local-b")
    Registry(other).copy_image(Registry(local_account), spec.name, pushed.build)
    assert Registry(other).builds(spec.name) == [pushed.build]
