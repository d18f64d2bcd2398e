"""The local registry's authorization tokens: the emulator's ECR hands them out, the guard asks for them.

ECR answers only requests with Basic credentials `AWS:<password>` from GetAuthorizationToken.
Here the repositories of account <id> are `<id>/<name>` in the local registry, and the password
of account <id> is `account_password(key, id)`: the account and its signature, keyed with the
local stack's own secret (made once by the stack, read by the emulator and the guard), so a
password is never guessed from an account id.

The emulator's GetAuthorizationToken (`LocalRegistry` installed by `answer_with_the_local_registry`)
names the local registry as `proxyEndpoint`, each account under its own path, with that password,
valid for 12 hours (moto: an amazonaws.com host, a fixed password, already expired in 2015).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

TOKEN_USER = "AWS"  # noqa: S105 - ECR's user name in every authorization token, not a secret
TOKEN_LIFETIME = 12 * 3600  # ECR's tokens are valid for 12 hours
_ACCOUNT = re.compile(r"[0-9]{12}")
_REPOSITORY_PATH = re.compile(r"/v2/(?P<account>[^/]+)/.+")


def new_auth_key() -> bytes:
    """A fresh key for a local stack's tokens."""
    import secrets

    return secrets.token_hex(32).encode()


def read_auth_key(path: Path) -> bytes:
    return path.read_bytes().strip()


def account_password(key: bytes, account_id: str) -> str:
    """The password of `account_id`'s authorization token: the account and its keyed signature."""
    signature = hmac.new(key, account_id.encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(f"{account_id}:{signature}".encode()).decode()


def token_account(key: bytes, authorization: str | None) -> str | None:
    """The account whose valid token the Authorization header carries, or None."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
        account, _, _signature = base64.b64decode(password, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if user != TOKEN_USER or not _ACCOUNT.fullmatch(account):
        return None
    return account if hmac.compare_digest(password, account_password(key, account)) else None


def repository_account(path: str) -> str | None:
    """The account owning the repository that `path` (decoded, without query) addresses, else None."""
    match = _REPOSITORY_PATH.fullmatch(unquote(path))
    return match["account"] if match else None


@dataclass(frozen=True)
class LocalRegistry:
    """The registry the emulator's ECR stands for, and the key of its authorization tokens."""

    url: str  # http://host:port; account <id>'s repositories are under /<id>/
    key: bytes | None = None

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[-1].rstrip("/")

    def password(self, account_id: str) -> str:
        # Without a key, moto's own (the guard then asks for none).
        return account_password(self.key, account_id) if self.key else f"{account_id}-auth-token"

    def token(self, account_id: str) -> dict[str, Any]:
        import datetime

        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=TOKEN_LIFETIME)
        basic = f"{TOKEN_USER}:{self.password(account_id)}"
        return {
            "authorizationToken": base64.b64encode(basic.encode()).decode(),
            "expiresAt": expires,
            "proxyEndpoint": f"{self.url.rstrip('/')}/{account_id}",
        }


def answer_with_the_local_registry(registry: LocalRegistry) -> None:
    """GetAuthorizationToken's `proxyEndpoint` is where the account's images are: on AWS its ECR
    host (whose domain differs by partition), here the local registry, under the account's own
    path. The password is the one the registry's guard asks of that account, and the token
    expires in 12 hours, as ECR's do (moto: a fixed password, already expired in 2015)."""
    # moto only in the emulator's process: the guard and the stack use the functions above alone.
    from moto.core.responses import ActionResult
    from moto.ecr.responses import ECRResponse

    def get_authorization_token(self: Any) -> Any:
        accounts = self._get_param("registryIds") or [self.current_account]
        return ActionResult({"authorizationData": [registry.token(account) for account in accounts]})

    ECRResponse.get_authorization_token = get_authorization_token  # type: ignore[method-assign]
