"""The local stack starts, reports, stops, refuses taken ports and keeps state only on request."""

from __future__ import annotations

import socket

import boto3
import pytest
from batchform.errors import UserError
from batchform.localstack import LocalStack, _pid_alive


def _s3(stack: LocalStack):  # noqa: ANN202
    return boto3.client(
        "s3",
        endpoint_url=stack.settings.emulator_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_up_starts_every_component_and_status_reports_its_address(private_stack: LocalStack) -> None:
    components = {c.name: c for c in private_stack.up()}
    assert all(c.running for c in components.values()), components
    assert components["emulator"].address == f"http://127.0.0.1:{private_stack.settings.emulator_port}"
    assert components["registry"].address == f"127.0.0.1:{private_stack.settings.registry_port}"
    assert components["docker"].address.startswith(("unix://", "tcp://"))
    assert f"127.0.0.1:{private_stack.settings.registry_port}" in components["registry"].line()


def test_starting_twice_is_harmless_and_keeps_the_same_processes(private_stack: LocalStack) -> None:
    first = {c.name: c.pid for c in private_stack.up()}
    second = {c.name: c.pid for c in private_stack.up()}
    assert first == second
    assert private_stack.is_up()


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


def test_down_stops_every_process_and_deletes_the_data(private_stack: LocalStack) -> None:
    private_stack.up()
    pids = [c.pid for c in private_stack.status() if c.name in ("emulator", "registry")]
    _s3(private_stack).create_bucket(Bucket="gone-after-down")
    private_stack.down()
    assert not any(_pid_alive(pid) for pid in pids)
    assert not private_stack.settings.data_dir.exists()
    private_stack.up()
    assert _s3(private_stack).list_buckets()["Buckets"] == []


def test_down_with_keep_preserves_emulator_state_and_registry_data(private_stack: LocalStack) -> None:
    private_stack.up()
    _s3(private_stack).create_bucket(Bucket="kept")
    _s3(private_stack).put_object(Bucket="kept", Key="state", Body=b"survives")
    private_stack.down(keep=True)
    assert not private_stack.emulator_healthy()
    assert (private_stack.settings.data_dir / "registry").is_dir()
    private_stack.up()
    assert _s3(private_stack).get_object(Bucket="kept", Key="state")["Body"].read() == b"survives"
