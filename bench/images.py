"""`build push` of every example image: from cold, then again with nothing changed.

ours       batchform.images.build_images + push_images to an account of the private stack,
           whose registry starts empty
reference  by hand, as a team does without reuse: `docker build` then `docker push` of the same
           images with the same build arguments (docker SDK, low-level API), with a new tag on
           each run (the repositories are immutable), into a second private stack's registry,
           empty too, so that neither side gains from layers the other uploaded

The base images already exist on the engine (stand-ins where the public ones cannot be pulled,
made to serve the private stack's registry for the run), and the engine's build cache is warm
for both sides alike. Bytes uploaded are what each registry stored (its blob files) during a
run. The unchanged run starts as a new command does, with nothing learnt by the cold one.
Every request to the docker engine and to the private stack's registry is counted where both
clients send it (requests.Session.send), and every ECR API call on the account's clients as a
registry request too; a run that did work with none counted fails.
Engine tags the project's builds share with other work on this engine (`batchform/<image>:<n>`)
are put back as they were afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import requests

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchform import images as images_module
from batchform.accounts import Account
from batchform.images import ImageSpec, build_images, discover, docker_client, push_images
from batchform.localstack import baseimages

from bench.stack import (
    CallCounter,
    Echo,
    PrivateStack,
    Result,
    exclusive,
    number,
    registry_blobs,
    standalone,
    timed,
)

QUICK_IMAGES = ["hello"]  # the smallest: quick proves the benchmark runs, the full run measures


@dataclass
class Run:
    seconds: float
    builds: dict[str, int]
    layers: int
    blobs: int
    bytes: int
    calls: Counter[str] = field(default_factory=Counter)

    def text(self) -> str:
        builds = ", ".join(f"{name} {build}" for name, build in sorted(self.builds.items()))
        counted = (
            f"; {self.calls['engine listings']} engine listing(s) of {self.calls['engine']} engine "
            f"request(s), {self.calls['registry']} registry request(s)"
            if self.calls
            else ""
        )
        return (
            f"{number(self.seconds)} s, builds [{builds}], {self.layers} layer(s) pushed, "
            f"{self.blobs} blob(s) / {self.bytes / 1e6:.1f} MB stored{counted}"
        )


@contextlib.contextmanager
def counting(engine: str, registry: str, account: Account) -> Iterator[Counter[str]]:
    """Count the requests every requests session sends: the docker client's (its APIClient is one)
    and the registry client's; and, as registry requests too, ECR's API calls on every client of
    the account (`CallCounter`): its listing of a repository's images is one. An engine listing is
    GET /images/json."""
    calls: Counter[str] = Counter()
    send = requests.Session.send

    def counted(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        url = urlsplit(request.url or "")
        if (request.url or "").startswith(engine):
            calls["engine"] += 1
            calls["engine listings"] += url.path.endswith("/images/json")
        elif url.netloc == registry:
            calls["registry"] += 1
        return send(session, request, **kwargs)

    ecr = CallCounter(account, "ecr")
    try:
        with mock.patch.object(requests.Session, "send", counted):
            yield calls
    finally:
        calls["registry"] += ecr.stop()


def _fresh_process() -> None:
    """Forget what earlier builds in this process learnt, as a new `build push` command starts."""
    images_module._CONFIRMED.clear()  # noqa: SLF001
    images_module._LOCAL.clear()  # noqa: SLF001


def _ours(stack: PrivateStack, account: Account, names: list[str], built_ids: set[str]) -> Run:
    """build push, adding the ids of the images it builds on the engine to `built_ids`."""
    quiet: Echo = lambda _line: None  # noqa: E731
    _fresh_process()
    blobs, size = registry_blobs(stack.settings)
    engine = docker_client().api.base_url
    with counting(engine, stack.settings.registry_address, account) as calls, timed() as elapsed:
        built = build_images([account], names, False, quiet)
        built_ids.update(r.image_id for r in built if r.image_id)
        pushed = push_images([account], names, quiet)
        built_ids.update(r.image_id for r in pushed if r.image_id)
    after_blobs, after_size = registry_blobs(stack.settings)
    # Numbering a build takes the registry, and finding it the engine: none counted is a miscount.
    if not calls["registry"] or not calls["engine"]:
        raise RuntimeError(
            f"build push of {', '.join(names)} counted no requests ({dict(calls)}): the count is broken"
        )
    return Run(
        elapsed(),
        {r.image: r.build for r in pushed},
        sum(sum(r.uploaded.values()) for r in pushed),
        after_blobs - blobs,
        after_size - size,
        calls,
    )


def _by_hand(stack: PrivateStack, account: Account, specs: list[ImageSpec], tag: int, api: Any) -> Run:
    """docker build + docker push of each image, after `aws ecr get-login-password | docker login`."""
    blobs, size = registry_blobs(stack.settings)
    layers = 0
    with timed() as elapsed:
        token = account.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
        username, _, password = base64.b64decode(token).decode().partition(":")
        auth = {"username": username, "password": password}
        for spec in specs:
            repository = f"{account.registry}/{spec.name}"
            for chunk in api.build(
                path=str(spec.context),
                tag=f"{repository}:{tag}",
                buildargs=spec.build_args,
                rm=True,
                decode=True,
                network_mode="host",
            ):
                if "error" in chunk:
                    raise RuntimeError(f"{spec.name}: docker build failed: {chunk['error']}")
            for chunk in api.push(repository, tag=str(tag), auth_config=auth, stream=True, decode=True):
                if "error" in chunk:
                    raise RuntimeError(f"{spec.name}: docker push failed: {chunk['error']}")
                layers += chunk.get("status") == "Pushed"
    after_blobs, after_size = registry_blobs(stack.settings)
    return Run(elapsed(), {s.name: tag for s in specs}, layers, after_blobs - blobs, after_size - size)


def _engine_tags(engine: Any, names: list[str]) -> dict[str, str]:
    """Every engine tag of the project's local repositories (`batchform/<image>`) -> image id."""
    tags: dict[str, str] = {}
    for name in names:
        for image in engine.images.list(name=f"batchform/{name}"):
            for tag in image.tags:
                tags[tag] = image.id
    return tags


def _restore_tags(engine: Any, names: list[str], before: dict[str, str], ours: set[str]) -> None:
    """Point the tags our builds took back where they were, and remove the images we built."""
    import docker

    ours = {image_id if image_id.startswith("sha256:") else f"sha256:{image_id}" for image_id in ours}
    for tag, image_id in _engine_tags(engine, names).items():
        if image_id not in ours:
            continue
        with contextlib.suppress(docker.errors.APIError):
            if tag in before:
                repository, _, version = tag.rpartition(":")
                engine.api.tag(before[tag], repository, version)
            else:
                engine.api.remove_image(tag, noprune=True)
    for image_id in ours - set(before.values()):
        with contextlib.suppress(docker.errors.APIError):
            engine.api.remove_image(image_id, noprune=True)


def _remove_references(engine: Any, account: Account, specs: list[ImageSpec], tags: list[int]) -> None:
    import docker

    for spec in specs:
        for tag in tags:
            with contextlib.suppress(docker.errors.APIError):
                engine.api.remove_image(f"{account.registry}/{spec.name}:{tag}", noprune=True)


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def bench(stack: PrivateStack, quick: bool, echo: Echo) -> Result:
    # Where public bases cannot be pulled, their stand-ins serve this stack's registry for the run.
    baseimages.ensure(lambda _line: None, serves=stack.settings.registry_address)
    try:
        return _bench(stack, quick, echo)
    finally:
        baseimages.withdraw(stack.settings.registry_address)


def _bench(stack: PrivateStack, quick: bool, echo: Echo) -> Result:
    specs = discover(QUICK_IMAGES if quick else None)
    names = [spec.name for spec in specs]
    echo(f"# images: build + push of {', '.join(names)}, cold then unchanged")
    engine = docker_client()
    account = stack.accounts({"bench-images": "456789012345"}).get("bench-images")
    # Two benchmark runs at once would take the same engine tags from each other.
    with exclusive("images"):
        before = _engine_tags(engine, names)
        built: set[str] = set()
        try:
            cold = _ours(stack, account, names, built)
            warm = _ours(stack, account, names, built)
        finally:
            _restore_tags(engine, names, before, built)
    with PrivateStack(echo) as other:
        ref_account = other.accounts({"bench-images": "456789012345"}).get("bench-images")
        try:
            ref_cold = _by_hand(other, ref_account, specs, 1, engine.api)
            ref_warm = _by_hand(other, ref_account, specs, 2, engine.api)
        finally:
            _remove_references(engine, ref_account, specs, [1, 2])
    fraction = warm.seconds / cold.seconds
    unchanged = warm.builds == cold.builds
    per_image = warm.calls["registry"] / len(names)
    details = [
        f"ours cold: {cold.text()}",
        f"ours unchanged: {warm.text()}",
        f"reference cold: {ref_cold.text()}",
        f"reference again: {ref_warm.text()}",
        f"ours unchanged / ours cold: {fraction:.1%} (target <= 1%: {_verdict(fraction <= 0.01)}); "
        f"build numbers unchanged: {'yes' if unchanged else 'NO'}; layers uploaded: {warm.layers}, "
        f"bytes stored: {warm.bytes} (target zero: {_verdict(warm.layers == 0 and warm.bytes == 0)})",
        f"unchanged: {warm.calls['engine listings']} engine listing(s) (target at most 1: "
        f"{_verdict(warm.calls['engine listings'] <= 1)}), {per_image:g} registry request(s) per image "
        f"and account (target 1: {_verdict(per_image <= 1)})",
        f"cold, ours / reference: {number(cold.seconds / ref_cold.seconds)}",
    ]
    return Result("images", warm.seconds, ref_warm.seconds, "s (unchanged run)", "lower", details)


def main(argv: list[str] | None = None) -> int:
    return standalone("images", bench, argv)


if __name__ == "__main__":
    sys.exit(main())
