"""What a secret looks like where it must not be, and what a reference to one must look like.

A job's plain environment is readable by anyone who may describe its job definition or the job,
and it is kept in CloudTrail; secrets reach a container through `secrets:` instead (an SSM
parameter or Secrets Manager ARN that ECS resolves when the container starts). Both the account
sources (`releases`) and `submit --env` (`jobs`) refuse a plain variable whose name says it holds
a secret, with the same rule, kept here:

- the name, split into words at `_` and at lower-to-upper case changes, contains one of the
  words SECRET(S), TOKEN, CREDENTIAL(S), APIKEY or PRIVATEKEY, or the pairs API KEY or
  PRIVATE KEY; or contains PASSWORD, PASSWD or PASSPHRASE anywhere (DBPASSWORD too);
- unless its last word says it names where the secret is, not the secret itself:
  FILE, PATH, DIR, ARN, NAME, ID, URL, URI, ENDPOINT, PARAMETER, REGION, TTL or LENGTH
  (`DB_PASSWORD_FILE`, `API_TOKEN_ARN`, `TOKEN_URL`).

So `DB_PASSWORD`, `GITHUB_TOKEN`, `apiKey`, `SSH_PRIVATE_KEY`, `CLIENT_SECRET` and
`AWS_SECRET_ACCESS_KEY` are refused; `TOKENIZER`, `MAX_TOKENS`, `PWD` and `SECRET_ARN` are not.
"""

from __future__ import annotations

import re

SECRET_WORDS = frozenset({"SECRET", "SECRETS", "TOKEN", "CREDENTIAL", "CREDENTIALS", "APIKEY", "PRIVATEKEY"})
SECRET_PAIRS = frozenset({("API", "KEY"), ("PRIVATE", "KEY")})
SECRET_PARTS = ("PASSWORD", "PASSWD", "PASSPHRASE")
REFERENCE_SUFFIXES = frozenset(
    "FILE PATH DIR ARN NAME ID URL URI ENDPOINT PARAMETER REGION TTL LENGTH".split()
)

# What `secrets:` values must be: the full ARN of an SSM parameter, or of a Secrets Manager secret
# (with the 6-character suffix AWS adds, which IAM matches on), optionally followed by
# `:json-key:version-stage:version-id` as ECS accepts. The same patterns are in the terraform
# variables' validations.
SSM_PARAMETER_ARN = re.compile(
    r"arn:aws[a-z-]*:ssm:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:parameter/[A-Za-z0-9_./-]+"
)
SECRETS_MANAGER_ARN = re.compile(
    r"arn:aws[a-z-]*:secretsmanager:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}"
    r"(:[^:]*:[A-Za-z0-9_-]*:[A-Za-z0-9-]*)?"
)
REFERENCE_HINT = (
    "must be the full ARN of an SSM parameter (arn:aws:ssm:<region>:<account>:parameter/<name>) "
    "or of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>)"
)
PLAIN_VARIABLE_REFUSAL = (
    "looks like a secret, which must not be a plain environment variable: reference it under the "
    "job's secrets: in terraform/accounts/<account>.yaml (an SSM parameter or Secrets Manager ARN)"
)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _words(name: str) -> list[str]:
    return [word for word in _CAMEL.sub("_", name).upper().split("_") if word]


def looks_like_secret(name: str) -> bool:
    """Whether an environment variable name says its value is a secret (see the module's rule)."""
    words = _words(name)
    if not words or words[-1] in REFERENCE_SUFFIXES:
        return False
    if any(part in name.upper() for part in SECRET_PARTS):
        return True
    pairs = zip(words, words[1:], strict=False)
    return bool(SECRET_WORDS.intersection(words)) or any(pair in SECRET_PAIRS for pair in pairs)


def is_secret_reference(value: str) -> bool:
    """Whether `value` is a reference ECS can resolve into a container's secret."""
    return bool(SSM_PARAMETER_ARN.fullmatch(value) or SECRETS_MANAGER_ARN.fullmatch(value))
