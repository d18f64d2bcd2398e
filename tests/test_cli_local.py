"""`local.up`'s port flags: invoke hands them over as text; the stack gets whole port numbers."""

from __future__ import annotations

import pytest
from batchform.cli import local
from batchform.localstack.stack import LocalStack
from invoke import Context, Exit


def test_ports_given_on_the_command_line_reach_the_stack_as_numbers(monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(LocalStack, "up", lambda self: started.append(self.settings) or [])
    local.local_up(Context(), emulator_port="4600", registry_port="5600", data_dir=str(tmp_path))
    [settings] = started
    assert (settings.emulator_port, settings.registry_port) == (4600, 5600)
    assert settings.emulator_url == "http://127.0.0.1:4600"


@pytest.mark.parametrize(
    "flag,value", [("emulator_port", "abc"), ("registry_port", "70000"), ("emulator_port", "0")]
)
def test_a_port_that_is_no_port_is_refused_in_one_line_naming_the_flag(monkeypatch, tmp_path, flag, value):
    monkeypatch.setattr(LocalStack, "up", lambda self: pytest.fail("the stack was started"))
    with pytest.raises(Exit) as refused:
        local.local_up(Context(), data_dir=str(tmp_path), **{flag: value})
    message = str(refused.value.message)
    assert message.startswith(f"error: --{flag.replace('_', '-')} {value!r}")
    assert "\n" not in message
