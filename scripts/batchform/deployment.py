"""What terraform deployed in an account: its outputs, read by the package, never copied by hand.

Outputs are cached in the account's terraform data directory after every apply, so that
commands which only need an ARN do not start terraform.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .accounts import Account
from .errors import UserError
from .settings import Paths, paths, write_atomic


def outputs_cache(account: Account, p: Paths | None = None) -> Path:
    return (p or paths()).terraform_data_dir(account.name) / "outputs.json"


def save_outputs(account: Account, outputs: dict[str, Any], p: Paths | None = None) -> None:
    write_atomic(outputs_cache(account, p), json.dumps(outputs, indent=2, sort_keys=True) + "\n")


def outputs(account: Account, refresh: bool = False) -> dict[str, Any]:
    path = outputs_cache(account)
    if path.exists() and not refresh:
        return json.loads(path.read_text())
    from .terraform import TerraformRunner

    values = TerraformRunner(account, echo=lambda _l: None).outputs()
    if not values:
        raise UserError(
            f"account {account.name} has nothing deployed yet: run invoke tf.apply --account {account.name}"
        )
    save_outputs(account, values)
    return values
