"""The local stack starts, reports, stops, refuses taken ports and keeps state only on request."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from batchform.accounts import Accounts
from batchform.errors import UserError
from batchform.localstack.stack import LocalStack, _pid_alive
from batchform.registry import Registry
from conftest import missing


def _s3(stack: LocalStack):  # noqa: ANN202
    return boto3.client(
        "s3",
        endpoint_url=stack.settings.emulator_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.mark.stack
def test_up_starts_every_component_and_status_reports_its_address(private_stack: LocalStack) -> None:
    components = {c.name: c for c in private_stack.up()}
    assert all(c.running for c in components.values()), components
    assert components["emulator"].address == f"http://127.0.0.1:{private_stack.settings.emulator_port}"
    assert components["registry"].address == f"127.0.0.1:{private_stack.settings.registry_port}"
    assert components["docker"].address.startswith(("unix://", "tcp://"))
    assert f"127.0.0.1:{private_stack.settings.registry_port}" in components["registry"].line()


@pytest.mark.stack
def test_starting_twice_is_harmless_and_keeps_the_same_processes(private_stack: LocalStack) -> None:
    first = {c.name: c.pid for c in private_stack.up()}
    second = {c.name: c.pid for c in private_stack.up()}
    assert first == second
    assert private_stack.is_up()


@pytest.mark.stack
def test_a_taken_port_is_a_clear_error_and_starts_nothing(private_stack: LocalStack) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", private_stack.settings.emulator_port))
        squatter.listen()
        with pytest.raises(
            UserError, match=rf"port {private_stack.settings.emulator_port} \(emulator\) is already in use"
        ):
            private_stack.up()
    assert not private_stack.registry_healthy(), "the registry must not be started when a port is taken"
    assert not private_stack.settings.state_file.exists()


@pytest.mark.stack
def test_a_running_stack_is_recognised_from_a_checkout_without_its_data(
    private_stack: LocalStack, tmp_path: Path
) -> None:
    """Another checkout (its own data directory, so not the registry's key) sees the stack running."""
    from dataclasses import replace

    private_stack.up()
    elsewhere = LocalStack(replace(private_stack.settings, data_dir=tmp_path / "elsewhere"))
    assert elsewhere.registry_healthy() and elsewhere.emulator_healthy()


@pytest.mark.stack
def test_down_stops_every_process_and_deletes_the_data(private_stack: LocalStack) -> None:
    private_stack.up()
    pids = [c.pid for c in private_stack.status() if c.name in ("emulator", "registry")]
    _s3(private_stack).create_bucket(Bucket="gone-after-down")
    private_stack.down()
    assert not any(_pid_alive(pid) for pid in pids)
    assert not private_stack.settings.data_dir.exists()
    private_stack.up()
    assert _s3(private_stack).list_buckets()["Buckets"] == []


@pytest.mark.stack
def test_down_with_keep_preserves_emulator_state_and_registry_data(private_stack: LocalStack) -> None:
    private_stack.up()
    _s3(private_stack).create_bucket(Bucket="kept")
    _s3(private_stack).put_object(Bucket="kept", Key="state", Body=b"survives")
    private_stack.down(keep=True)
    assert not private_stack.emulator_healthy()
    assert (private_stack.settings.data_dir / "registry").is_dir()
    private_stack.up()
    assert _s3(private_stack).get_object(Bucket="kept", Key="state")["Body"].read() == b"survives"


@contextlib.contextmanager
def pushed_image(account, tmp_path: Path, base: str = "scratch") -> Iterator[tuple[str, int]]:  # noqa: ANN001
    """A tiny image of its own (`/data.txt` holds its name), built and pushed by the product."""
    from batchform.images import ImageBuilder, ImageSpec, docker_client

    name = f"auth-{uuid.uuid4().hex[:10]}"
    context = tmp_path / name
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base}\nCOPY data.txt /data.txt\n")
    (context / "data.txt").write_text(name)
    builder = ImageBuilder([account], echo=lambda _line: None)
    try:
        yield name, builder.push(builder.build(ImageSpec(name=name, context=context))).build
    finally:
        client = docker_client()
        for image in client.images.list(name=f"batchform/{name}"):
            for tag in image.tags:
                client.api.remove_image(tag, noprune=True)


@pytest.mark.stack
@pytest.mark.docker
def test_ecrs_authorization_token_names_the_local_registry_and_images_are_pushed_there(
    private_stack: LocalStack, tmp_path: Path
) -> None:
    """AWS-FIDELITY: "Registry host names: take the registry from the authorization token's
    `proxyEndpoint`." The local stack's token names its own registry (each account under its own
    path), so the product finds it as it finds ECR, with no registry configured."""
    private_stack.up()
    account = Accounts({}, stack=private_stack.settings).get("local")
    assert account.endpoints.registry is None
    [token] = account.client("ecr").get_authorization_token()["authorizationData"]
    address = private_stack.settings.registry_address
    assert token["proxyEndpoint"] == f"http://{address}/{account.account_id}"
    assert token["expiresAt"].timestamp() > time.time() + 11 * 3600  # ECR's 12 hours, not moto's 2015
    assert account.registry_url == token["proxyEndpoint"]

    with pushed_image(account, tmp_path) as (name, build):
        credentials = Registry(account).credentials()
        listed = requests.get(
            f"http://{address}/v2/{account.account_id}/{name}/tags/list",
            auth=(credentials.username, credentials.password),
            timeout=30,
        )
        assert listed.json()["tags"] == [str(build)]


def _skopeo(*args: str, authfile: Path | None = None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("skopeo")
    if binary is None:
        missing("skopeo (apt-get install skopeo)")
    auth = ["--authfile", str(authfile)] if authfile else ["--no-creds"]
    return subprocess.run(  # noqa: S603 - fixed arguments
        [binary, "inspect", "--tls-verify=false", *auth, *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.stack
@pytest.mark.docker
def test_the_local_registry_asks_for_the_accounts_token_and_the_product_and_skopeo_bring_it(
    private_stack: LocalStack, tmp_path: Path
) -> None:
    """As ECR: the registry answers only with the account's authorization token. The docker engine
    (pushes), batchform's registry client and skopeo with the token get in; without it, nobody."""
    private_stack.up()
    account = Accounts({}, stack=private_stack.settings).get("local")
    address = private_stack.settings.registry_address
    with pushed_image(account, tmp_path) as (name, build):  # the docker engine pushed with the token
        assert Registry(account).builds(name) == [build]
        reference = f"docker://{address}/{account.account_id}/{name}:{build}"

        refused = _skopeo(reference)
        assert refused.returncode != 0
        assert "unauthorized" in refused.stderr.lower() or "authentication required" in refused.stderr.lower()
        assert requests.get(f"http://{address}/v2/", timeout=10).status_code == 401

        credentials = Registry(account).credentials()
        authfile = tmp_path / "auth.json"  # the password goes in a file, never on skopeo's command line
        basic = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
        authfile.write_text(json.dumps({"auths": {address: {"auth": basic}}}))
        authfile.chmod(0o600)
        inspected = _skopeo(reference, authfile=authfile)
        assert inspected.returncode == 0, inspected.stderr
        assert json.loads(inspected.stdout)["Labels"]["org.opencontainers.image.version"] == str(build)
        assert credentials.password not in (private_stack.settings.data_dir / "registry.log").read_text()
