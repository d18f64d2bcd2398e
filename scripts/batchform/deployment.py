"""What terraform deployed in an account: its outputs, read by the package, never copied by hand.

terraform's runner caches the outputs in the account's terraform data directory after every
apply, so that commands which only need an ARN do not start terraform.
"""

from __future__ import annotations

import json
from typing import Any

from .accounts import Account
from .errors import UserError
from .terraform import TerraformRunner, outputs_cache, save_outputs


def outputs(account: Account, refresh: bool = False) -> dict[str, Any]:
    path = outputs_cache(account)
    if path.exists() and not refresh:
        return json.loads(path.read_text())
    values = TerraformRunner(account, echo=lambda _l: None).outputs()
    if not values:
        raise UserError(
            f"account {account.name} has nothing deployed yet: run invoke tf.apply --account {account.name}"
        )
    save_outputs(account, values)
    return values
