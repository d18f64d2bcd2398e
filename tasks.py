"""invoke entry point: the tasks are defined in the batchform package (scripts/batchform/cli.py)."""

from batchform.cli import namespace as ns  # noqa: F401 - invoke looks for `ns`
