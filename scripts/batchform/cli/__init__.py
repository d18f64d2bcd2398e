"""Command line: invoke tasks, a thin shell over the package's modules.

`invoke --list` from the repository root, `python -m batchform --list` and the `batchform`
console script all show these tasks. Each one parses its arguments (only this layer knows flag
names), calls the package and turns a UserError into a one-line message and a non-zero exit.
One module per namespace; this one composes them.
"""

from __future__ import annotations

import os
from typing import Any

from invoke import Collection

from .accounts import accounts
from .data import data_get, data_item, data_ls, data_put
from .dev import bench, test
from .doctor import doctor
from .images import build, images_list, push
from .jobs import jobs_cancel, jobs_follow, jobs_list, jobs_logs, submit
from .local import demo, local_down, local_status, local_up
from .releases import bump, promote, releases, render
from .tf import tf_apply, tf_check, tf_destroy, tf_output, tf_plan
from .ui import ui

# Positional arguments a task may omit: `invoke bump IMAGE [BUILD]`. invoke itself requires
# every positional; this lets the named ones end the command empty (the task sees "").
OPTIONAL_POSITIONALS = {"bump": ("build",)}


def _allow_optional_positionals() -> None:
    from invoke.parser.parser import ParseMachine

    if getattr(ParseMachine.complete_context, "batchform", False):
        return
    original = ParseMachine.complete_context

    def complete_context(self: Any) -> None:
        if self.context is not None:
            for argument in self.context.positional_args:
                if argument.value is None and argument.name in OPTIONAL_POSITIONALS.get(
                    self.context.name, ()
                ):
                    argument.value = ""
        original(self)

    complete_context.batchform = True  # type: ignore[attr-defined]
    ParseMachine.complete_context = complete_context  # type: ignore[method-assign]


def _namespace() -> Collection:
    ns = Collection()
    for t in (accounts, build, push, render, bump, promote, releases, submit, doctor, ui, demo, bench, test):
        ns.add_task(t)
    local = Collection("local")
    local.add_task(local_up, "up")
    local.add_task(local_status, "status")
    local.add_task(local_down, "down")
    tf = Collection("tf")
    tf.add_task(tf_plan, "plan")
    tf.add_task(tf_apply, "apply")
    tf.add_task(tf_destroy, "destroy")
    tf.add_task(tf_output, "output")
    tf.add_task(tf_check, "check")
    images_ns = Collection("images")
    images_ns.add_task(images_list, "list")
    jobs_ns = Collection("jobs")
    jobs_ns.add_task(jobs_logs, "logs")
    jobs_ns.add_task(jobs_follow, "follow")
    jobs_ns.add_task(jobs_list, "list")
    jobs_ns.add_task(jobs_cancel, "cancel")
    data_ns = Collection("data")
    data_ns.add_task(data_put, "put")
    data_ns.add_task(data_get, "get")
    data_ns.add_task(data_ls, "ls")
    data_ns.add_task(data_item, "item")
    for sub in (local, tf, images_ns, jobs_ns, data_ns):
        ns.add_collection(sub)
    ns.configure({"run": {"echo": False}})
    _allow_optional_positionals()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return ns


namespace = _namespace()
