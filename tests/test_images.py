"""Build numbers, reuse, races and multi-account pushes, on the real docker engine and registry.

Each test builds a tiny image of its own (FROM scratch, two layers), so its repository starts
empty and nothing depends on the images under images/.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from batchform import images
from batchform.accounts import Account, Accounts
from batchform.images import LABEL_DIGEST, LABEL_VERSION, ImageBuilder, ImageSpec
from batchform.registry import ManifestContents, Registry, list_builds

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, where bench/ is

from bench.images import counting  # noqa: E402

pytestmark = [pytest.mark.stack, pytest.mark.docker]


def _spec(root: Path, name: str, data: str, extra: str | None = None) -> ImageSpec:
    """A two-layer image; layer contents unique to the test unless given, so no registry has them yet."""
    context = root / uuid.uuid4().hex
    context.mkdir()
    extra = extra if extra is not None else f"{name} {root}"
    (context / "Dockerfile").write_text("FROM scratch\nCOPY extra.txt /extra.txt\nCOPY data.txt /data.txt\n")
    (context / "extra.txt").write_text(extra)
    (context / "data.txt").write_text(data)
    return ImageSpec(name=name, context=context)


@pytest.fixture
def image_name(local_stack) -> Iterator[str]:
    name = f"check-{uuid.uuid4().hex[:10]}"
    yield name
    from batchform.images import docker_client

    client = docker_client()
    for image in client.images.list(name=f"batchform/{name}"):
        for tag in image.tags:
            client.api.remove_image(tag, noprune=True)


@pytest.fixture
def two_accounts(local_stack) -> list[Account]:
    accounts = Accounts()
    return [accounts.get("local"), accounts.get("local-b")]


def test_the_first_build_is_1_and_the_next_is_the_registrys_highest_plus_one(
    local_account, image_name, tmp_path
):
    builder = ImageBuilder([local_account], echo=lambda _line: None)
    first = builder.push(builder.build(_spec(tmp_path, image_name, "one")))
    assert (first.build, first.reused) == (1, False)
    second = builder.push(builder.build(_spec(tmp_path, image_name, "two")))
    assert second.build == 2
    # A build number from elsewhere (another machine) counts: the registry is the source of truth.
    other = ImageBuilder([local_account], echo=lambda _line: None)
    third = other.build(_spec(tmp_path, image_name, "three"))
    assert third.build == 3
    assert Registry(local_account).builds(image_name) == [2, 1]


def test_an_unchanged_image_keeps_its_number_and_its_push_uploads_nothing(
    local_account, image_name, tmp_path
):
    builder = ImageBuilder([local_account], echo=lambda _line: None)
    spec = _spec(tmp_path, image_name, "same content")
    pushed = builder.push(builder.build(spec))
    assert pushed.uploaded == {"local": 2}

    again = builder.build(spec)
    assert (again.build, again.reused) == (pushed.build, True)
    assert builder.push(again).uploaded == {"local": 0}
    assert Registry(local_account).builds(image_name) == [pushed.build]

    forced = builder.build(spec, force=True)
    assert (forced.build, forced.reused) == (pushed.build + 1, False)


def test_a_changed_layer_is_the_only_one_uploaded(local_account, image_name, tmp_path):
    builder = ImageBuilder([local_account], echo=lambda _line: None)
    shared = f"shared by both builds of {image_name}"
    builder.push(builder.build(_spec(tmp_path, image_name, "v1", extra=shared)))
    second = builder.push(builder.build(_spec(tmp_path, image_name, "v2", extra=shared)))
    assert second.uploaded == {"local": 1}


def test_two_builds_racing_for_one_number_end_with_two_distinct_pullable_builds(
    local_account, image_name, tmp_path
):
    builders = [ImageBuilder([local_account], echo=lambda _line: None) for _ in range(2)]
    specs = [_spec(tmp_path, image_name, "alice's change"), _spec(tmp_path, image_name, "bob's change")]
    built = [builder.build(spec) for builder, spec in zip(builders, specs, strict=True)]
    assert [b.build for b in built] == [1, 1]  # both saw an empty repository

    pushed: list = [None, None]
    start = threading.Barrier(2)

    def push(index: int) -> None:
        start.wait()
        pushed[index] = builders[index].push(built[index])

    threads = [threading.Thread(target=push, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert sorted(p.build for p in pushed) == [1, 2]
    registry = Registry(local_account)
    assert registry.builds(image_name) == [2, 1]
    for result in pushed:
        labels = registry.config_labels(image_name, result.build)
        assert labels[LABEL_DIGEST] == result.digest  # each number holds the content pushed under it
        assert labels[LABEL_VERSION] == str(result.build)  # and says which number it is

    client = builders[0].docker
    for result in pushed:
        reference = registry.reference(image_name, result.build)
        client.images.pull(reference, auth_config=registry.credentials().docker_auth())
        client.api.remove_image(reference, noprune=True)


def test_one_build_is_pushed_to_every_target_account(two_accounts, image_name, tmp_path):
    builder = ImageBuilder(two_accounts, echo=lambda _line: None)
    first = builder.push(builder.build(_spec(tmp_path, image_name, "everywhere")))
    # Both local accounts' registries are one server, so the second may mount the layers the
    # first received instead of uploading them; real accounts' registries upload them.
    assert first.uploaded["local"] == 2 and set(first.uploaded) == {"local", "local-b"}
    for account in two_accounts:
        assert Registry(account).builds(image_name) == [first.build]

    # An account that is behind gets the same number the others have, not a number of its own.
    only_local = ImageBuilder(two_accounts[:1], echo=lambda _line: None)
    second = only_local.push(only_local.build(_spec(tmp_path, image_name, "local first")))
    caught_up = builder.push(builder.current(second.spec))
    assert caught_up.build == second.build
    assert caught_up.uploaded["local"] == 0  # already there: nothing sent again
    assert caught_up.uploaded["local-b"] <= 1  # at most the one changed layer
    assert Registry(two_accounts[1]).builds(image_name) == [second.build, first.build]


def test_images_list_shows_builds_newest_first_with_revision_and_date(local_account, image_name, tmp_path):
    builder = ImageBuilder([local_account], echo=lambda _line: None)
    pushed = [builder.push(builder.build(_spec(tmp_path, image_name, f"v{i}"))) for i in range(3)]
    listed = list_builds(local_account, [image_name])
    assert [b.build for b in listed] == [3, 2, 1]
    assert [b.content_digest for b in listed] == [p.digest for p in reversed(pushed)]
    assert all(len(b.revision) == 40 and b.created.endswith("Z") for b in listed)


def _counted(account: Account) -> contextlib.AbstractContextManager[Counter[str]]:
    """Requests by kind, counted as the images benchmark counts them: every requests session's
    (the docker client's and the registry's), and ECR's API calls on every client of the account."""
    from batchform.images import docker_client

    return counting(docker_client().api.base_url, account.registry.split("/", 1)[0], account)


def _new_process() -> None:
    """What a new command knows: nothing learnt by earlier builds in this process."""
    images._CONFIRMED.clear()  # noqa: SLF001
    images._LOCAL.clear()  # noqa: SLF001


def test_an_unchanged_build_push_asks_the_registry_once_per_image_and_lists_the_engine_at_most_once(
    local_account, image_name, tmp_path
):
    spec = _spec(tmp_path, image_name, "counted")
    first = ImageBuilder([local_account], echo=lambda _line: None)
    pushed = first.push(first.build(spec))
    _new_process()

    with _counted(local_account) as calls:
        # `build push`: two commands in one process, each with a builder of its own.
        again = ImageBuilder([local_account], echo=lambda _line: None).build(spec)
        pusher = ImageBuilder([local_account], echo=lambda _line: None)
        result = pusher.push(pusher.current(spec))
    assert (again.build, again.reused) == (pushed.build, True)
    assert (result.build, result.uploaded) == (pushed.build, {"local": 0})
    # One listing of the tags with their manifests' digests, the newest one known here as this
    # content (its push recorded it); nothing in the push, which knows from the build that the
    # registry has it.
    assert calls["registry"] == 1
    assert calls["engine listings"] == 0  # the build found its image by its tag, one inspection
    assert calls["engine"] > 0

    _new_process()
    with _counted(local_account) as calls:  # `push` alone, in a new process
        pusher = ImageBuilder([local_account], echo=lambda _line: None)
        assert pusher.push(pusher.current(spec)).uploaded == {"local": 0}
    assert (calls["registry"], calls["engine listings"]) == (1, 1)

    # On a machine that has not seen the manifest, the engine's image answers: the listing, then the
    # registry's token and that build's manifest (its config digest is the engine's image id).
    _new_process()
    with mock.patch.object(ManifestContents, "get", return_value=None), _counted(local_account) as calls:
        again = ImageBuilder([local_account], echo=lambda _line: None).build(spec)
    assert (again.build, again.reused, calls["registry"]) == (pushed.build, True, 3)


def test_a_manifest_record_names_content_only_for_a_well_formed_digest(tmp_path, monkeypatch):
    monkeypatch.setenv("BATCHFORM_HOME", str(tmp_path))
    contents = ManifestContents()
    manifest = "sha256:" + "ab" * 32
    assert contents.get(manifest) is None
    contents.put(manifest, "content-1")
    assert ManifestContents().get(manifest) == "content-1"
    contents.put("../../etc/passwd", "content-2")  # a registry's answer never becomes a path
    contents.put("sha256:../x", "content-2")
    assert [p.name for p in (tmp_path / "manifests").iterdir()] == [manifest.replace(":", "-")]
