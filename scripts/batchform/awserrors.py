"""What a failed AWS call means for the caller: worth repeating (and why), or not."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

THROTTLING_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
CONNECTION_ERRORS = (ConnectionClosedError, EndpointConnectionError, ReadTimeoutError)


def transient_kind(exc: BaseException) -> str | None:
    """'throttling' or 'failing' when the call is worth repeating after a pause, else None.

    A connection that broke or timed out is 'failing': like a 5xx, it does not say whether
    the call took effect, which matters to a caller whose call is not a read.
    """
    if isinstance(exc, BotoCoreError):
        return "failing" if isinstance(exc, CONNECTION_ERRORS) else None
    if not isinstance(exc, ClientError):
        return None
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if code in THROTTLING_CODES or status == 429:
        return "throttling"
    if status >= 500:
        return "failing"
    return None
