"""The AWS accounts batchform deploys to, and how to reach each one.

Accounts are declared under `accounts:` in batchform.yaml. The account `local` is built in:
it points every AWS call at the embedded local stack. An account differs from another only
by data -- its id, region, credentials source and endpoints -- so the code that talks to
AWS never asks which kind of account it has.

An account's `endpoints` is either omitted (real AWS), the string `local-stack` (the
embedded emulator and registry, with ports from the local stack settings), or a mapping
`{aws: URL, registry: HOST[/PREFIX]}`.

An account's `ci` names the roles a CI job assumes there (through GitHub's OIDC identity):
`deploy_role_arn` and `plan_role_arn`. A CI job writes each role's session to an AWS profile and
says so with BATCHFORM_AWS_PROFILE (e.g. `batchform-{account}`): every account on AWS then takes
its credentials from that profile, as they are, instead of its declared profile and role.
"""

from __future__ import annotations

import math
import os
import re
import threading
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, UserError
from .settings import EMULATOR_ACCOUNT_ID, LocalStackSettings, check_keys, project_config

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config as BotoConfig

ACCOUNT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
# What the AWS CLI and SDKs accept as a profile name (no whitespace, brackets or slashes).
PROFILE = re.compile(r"^[A-Za-z0-9_.@+=,-]{1,128}$")
# Names, for each account on AWS, the AWS profile that holds its credentials ("{account}" is the
# account's name); its declared profile and role_arn are then not used. CI sets it.
PROFILE_OVERRIDE_ENV = "BATCHFORM_AWS_PROFILE"

ACCOUNT_KEYS = {
    "account_id",
    "region",
    "aliases",
    "profile",
    "role_arn",
    "endpoints",
    "backend",
    "network",
    "sizing",
    "logs_read_rate",
    "ci",
}
CI_KEYS = {"deploy_role_arn", "plan_role_arn"}
BACKEND_KEYS = {"bucket", "key", "region", "use_lockfile", "dynamodb_table", "kms_key_id"}
NETWORK_KEYS = {"vpc_id", "subnet_ids", "security_group_ids", "assign_public_ip"}
SIZING_KEYS = {"compute_type", "max_vcpus", "min_vcpus", "instance_types"}
COMPUTE_TYPES = {"FARGATE", "FARGATE_SPOT", "EC2", "SPOT"}

# The local stack's emulator accepts any key pair; these only say which client is calling.
# They grant nothing anywhere else.
EMULATOR_CREDENTIALS = {
    "aws_access_key_id": "batchform-local-stack",
    "aws_secret_access_key": "batchform-local-stack-dummy-key",
}


@cache
def boto_config(retries: bool = True) -> BotoConfig:
    """The clients' botocore configuration (built on first use: botocore takes 0.14 s to import,
    which a command that calls no AWS API, a refusal or a listing of accounts, need not pay).

    retries=True: client-side rate adaptation; throttling and 5xx are retried with backoff, so a
    busy account slows batchform down instead of failing it. retries=False: one attempt, for
    callers that retry themselves and must decide what a failed call means first (botocore
    repeating a SubmitJob whose answer was lost would start the job twice).
    """
    from botocore.config import Config

    config = Config(
        retries={"mode": "adaptive", "max_attempts": 10},
        user_agent_extra="batchform",
        max_pool_connections=32,
    )
    if retries:
        return config
    return config.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))


BUILTIN_LOCAL: dict[str, Any] = {
    "account_id": EMULATOR_ACCOUNT_ID,
    "region": "us-east-1",
    "endpoints": "local-stack",
}


@dataclass(frozen=True)
class Endpoints:
    """Where an account's APIs answer; None means the public AWS endpoints."""

    aws: str | None = None
    registry: str | None = None
    emulator_credentials: bool = False


@dataclass(frozen=True)
class Account:
    name: str
    account_id: str
    region: str
    aliases: tuple[str, ...] = ()
    profile: str | None = None
    role_arn: str | None = None
    endpoints: Endpoints = field(default_factory=Endpoints)
    backend: dict[str, Any] = field(default_factory=dict)
    network: dict[str, Any] = field(default_factory=dict)
    sizing: dict[str, Any] = field(default_factory=dict)
    # GetLogEvents calls per second for every log reader of this account and region together;
    # None: ratelimit's default, under CloudWatch Logs' per-account quota.
    logs_read_rate: float | None = None
    # The roles CI assumes in this account: `deploy_role_arn`, `plan_role_arn` (batchform.yaml's `ci`).
    ci: dict[str, str] = field(default_factory=dict)

    @property
    def on_aws(self) -> bool:
        """Whether the account is reached at AWS's own endpoints (not the local stack or another emulator).

        Only listings for people and CI ask: the code that talks to AWS never does.
        """
        return self.endpoints == Endpoints()

    def describe(self) -> dict[str, Any]:
        """What `accounts --json` says of the account: names, id, region, endpoints and roles."""
        if self.endpoints.emulator_credentials:
            endpoints: str | dict[str, str | None] | None = "local-stack"
        elif self.on_aws:
            endpoints = None
        else:
            endpoints = {"aws": self.endpoints.aws, "registry": self.endpoints.registry}
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "account_id": self.account_id,
            "region": self.region,
            "real": self.on_aws,
            "endpoints": endpoints,
            "profile": self.profile,
            "role_arn": self.role_arn,
            "ci": {key: self.ci.get(key) for key in sorted(CI_KEYS)},
        }

    # ---- AWS access -------------------------------------------------------------------
    @cached_property
    def _lock(self) -> threading.Lock:
        return threading.Lock()

    @cached_property
    def _clients(self) -> dict[str, Any]:
        return {}

    @cached_property
    def base_session(self) -> boto3.Session:
        """The credentials the account starts from, before any role: profile, environment or emulator."""
        import boto3

        base_kwargs: dict[str, Any] = {"region_name": self.region}
        if self.profile:
            base_kwargs["profile_name"] = self.profile
        if self.endpoints.emulator_credentials:
            base_kwargs.update(EMULATOR_CREDENTIALS)
        return boto3.Session(**base_kwargs)

    @cached_property
    def session(self) -> boto3.Session:
        """A boto3 session for this account: the base credentials, then the role if any."""
        import boto3
        from botocore.credentials import RefreshableCredentials
        from botocore.session import get_session

        base = self.base_session
        if not self.role_arn:
            return base
        sts = base.client("sts", endpoint_url=self.endpoints.aws, config=boto_config())
        role_arn = self.role_arn

        def assume() -> dict[str, str]:
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="batchform")["Credentials"]
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat(),
            }

        # Refreshable: a push or a follow that outlives the role session renews it.
        botocore_session = get_session()
        botocore_session._credentials = RefreshableCredentials.create_from_metadata(  # noqa: SLF001
            metadata=assume(), refresh_using=assume, method="sts-assume-role"
        )
        botocore_session.set_config_variable("region", self.region)
        return boto3.Session(botocore_session=botocore_session)

    def client(self, service: str, retries: bool = True) -> Any:
        """A cached, thread-safe boto3 client for `service` in this account.

        `retries=False`: one attempt per call, for callers with their own retry policy.
        """
        with self._lock:
            key = service if retries else f"{service}/one-attempt"
            if key not in self._clients:
                self._clients[key] = self.session.client(
                    service,
                    endpoint_url=self.endpoints.aws,
                    config=boto_config(retries),
                )
            return self._clients[key]

    def credentials_env(self, assume_role: bool = True) -> dict[str, str]:
        """Environment variables that give a child process this account's credentials.

        `assume_role=False` gives the base credentials only, for a child that assumes the role
        itself (terraform, through its provider's and backend's `assume_role`): a role session
        frozen here would expire after an hour, in the middle of a long apply, while one the
        child assumed is renewed by it. A profile is passed by name, so the child reads (and
        renews) it as boto3 would. Credentials travel in the environment, never on a command line.
        """
        session = self.session if assume_role else self.base_session
        creds = session.get_credentials()
        if creds is None:
            raise UserError(f"account {self.name}: no AWS credentials found (profile, environment or role)")
        env = {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        if not assume_role and self.profile and not self.endpoints.emulator_credentials:
            env["AWS_PROFILE"] = self.profile
            return env
        if not assume_role and creds.method not in ("explicit", "env"):
            # Shared config, SSO, container or instance credentials: the child finds and renews
            # them through the same default chain; frozen here they could not be renewed.
            env.update({key: os.environ[key] for key in ("AWS_PROFILE",) if key in os.environ})
            return env
        frozen = creds.get_frozen_credentials()
        env["AWS_ACCESS_KEY_ID"] = frozen.access_key
        env["AWS_SECRET_ACCESS_KEY"] = frozen.secret_key
        if frozen.token:
            env["AWS_SESSION_TOKEN"] = frozen.token
        return env

    # ---- derived names ----------------------------------------------------------------
    @cached_property
    def registry_url(self) -> str:
        """Scheme, host and optional path prefix of the registry serving this account's images.

        The `proxyEndpoint` of ECR's authorization token, unless the endpoints name a registry:
        the host is AWS's to say (the China partitions' is under amazonaws.com.cn; the local
        stack's is its own registry), so it is never made up here.
        """
        if self.endpoints.registry:
            return self.endpoints.registry
        token = self.client("ecr").get_authorization_token()["authorizationData"][0]
        return token["proxyEndpoint"].rstrip("/")

    @property
    def registry(self) -> str:
        """The registry as image references name it: host[/prefix], no scheme."""
        return self.registry_url.split("://", 1)[-1].rstrip("/")

    @property
    def state_backend(self) -> dict[str, Any]:
        """The S3 backend settings for this account's terraform state."""
        backend = {
            "bucket": f"batchform-tfstate-{self.account_id}-{self.region}",
            "key": f"batchform/{self.name}.tfstate",
            "region": self.region,
            "encrypt": True,
            "use_lockfile": True,
        }
        backend.update(self.backend)
        return backend


def _parse_endpoints(where: str, value: Any, stack: LocalStackSettings) -> Endpoints:
    if value is None:
        return Endpoints()
    if value == "local-stack":
        # The registry (and each account's path in it) is what the emulator's ECR tokens name.
        return Endpoints(aws=stack.emulator_url, emulator_credentials=True)
    if isinstance(value, dict):
        check_keys(where, value, {"aws", "registry"})
        return Endpoints(aws=value.get("aws"), registry=value.get("registry"))
    raise ConfigError(f"{where}: must be 'local-stack' or a mapping with aws/registry")


def _require_str(where: str, value: Any, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):  # `$` would let a trailing newline in
        raise ConfigError(f"{where}: {what}, got {value!r}")
    return value


def _check_network(where: str, network: dict[str, Any]) -> None:
    """A Fargate task pulls its image over its subnet's route: the default VPC's subnets are public
    with no NAT gateway, so there a task without a public IP cannot reach ECR (Batch's
    assignPublicIp defaults to DISABLED). Declared subnets are expected to be private, with a NAT
    gateway or VPC endpoints; terraform applies the same defaults (public IP on for the default VPC)."""
    assign = network.get("assign_public_ip")
    if assign is not None and not isinstance(assign, bool):
        raise ConfigError(f"{where}.assign_public_ip: must be true or false, got {assign!r}")
    if assign is False and network.get("vpc_id") is None:
        raise ConfigError(
            f"{where}.assign_public_ip: cannot be false in the default VPC (public subnets without a NAT "
            "gateway: Fargate jobs could not pull their image); declare network.vpc_id and subnet_ids "
            "with a NAT gateway or VPC endpoints to turn it off"
        )


def _parse_ci(where: str, raw: Any, account_id: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping with deploy_role_arn and/or plan_role_arn")
    check_keys(where, raw, CI_KEYS)
    for key, arn in raw.items():
        _require_str(f"{where}.{key}", arn, ROLE_ARN, "must be an IAM role ARN")
        if arn.split(":")[4] != account_id:
            raise ConfigError(
                f"{where}.{key}: must be a role of the account itself ({account_id}), got {arn}"
            )
    return dict(raw)


def _profile_override(where: str, name: str) -> str | None:
    """The profile BATCHFORM_AWS_PROFILE names for this account, or None when it is not set."""
    pattern = os.environ.get(PROFILE_OVERRIDE_ENV)
    if not pattern:
        return None
    profile = pattern.replace("{account}", name)
    if not PROFILE.fullmatch(profile):
        raise ConfigError(
            f"{PROFILE_OVERRIDE_ENV} {pattern!r} gives {where} the profile {profile!r}: profile names are "
            "letters, digits and _.@+=,- (at most 128)"
        )
    return profile


def _parse_account(name: str, raw: Any, stack: LocalStackSettings) -> Account:
    # A name that would break the message's line (or is no text) is shown as its repr.
    where = f"accounts.{name if isinstance(name, str) and name.isprintable() else repr(name)}"
    if not isinstance(name, str) or not ACCOUNT_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: account names are lowercase letters, digits and hyphens, starting with a letter "
            "(at most 31)"
        )
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping")
    check_keys(where, raw, ACCOUNT_KEYS)
    if "account_id" not in raw:
        raise ConfigError(f"{where}.account_id: required")
    account_id = _require_str(
        f"{where}.account_id", raw["account_id"], ACCOUNT_ID, "must be 12 digits, quoted"
    )
    region = _require_str(f"{where}.region", raw.get("region", "us-east-1"), REGION, "must be an AWS region")
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list) or not all(
        isinstance(a, str) and ACCOUNT_NAME.fullmatch(a) for a in aliases
    ):
        raise ConfigError(f"{where}.aliases: must be a list of short lowercase names")
    role_arn = raw.get("role_arn")
    if role_arn is not None:
        _require_str(f"{where}.role_arn", role_arn, ROLE_ARN, "must be an IAM role ARN")
    profile = raw.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise ConfigError(f"{where}.profile: must be a string")
    sections = {}
    for key, allowed in (("backend", BACKEND_KEYS), ("network", NETWORK_KEYS), ("sizing", SIZING_KEYS)):
        section = raw.get(key, {}) or {}
        if not isinstance(section, dict):
            raise ConfigError(f"{where}.{key}: must be a mapping")
        check_keys(f"{where}.{key}", section, allowed)
        sections[key] = dict(section)
    _check_network(f"{where}.network", sections["network"])
    compute_type = sections["sizing"].get("compute_type")
    if compute_type is not None and compute_type not in COMPUTE_TYPES:
        raise ConfigError(f"{where}.sizing.compute_type: must be one of {', '.join(sorted(COMPUTE_TYPES))}")
    max_vcpus = sections["sizing"].get("max_vcpus")
    if max_vcpus is not None and (
        not isinstance(max_vcpus, int) or isinstance(max_vcpus, bool) or max_vcpus < 1
    ):
        raise ConfigError(f"{where}.sizing.max_vcpus: must be a positive whole number")
    rate = raw.get("logs_read_rate")  # GetLogEvents calls per second
    if rate is not None and (
        not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 < rate < math.inf
    ):
        raise ConfigError(
            f"{where}.logs_read_rate: must be a positive number of calls per second, got {rate!r}"
        )
    ci = _parse_ci(f"{where}.ci", raw.get("ci"), account_id)
    endpoints = _parse_endpoints(f"{where}.endpoints", raw.get("endpoints"), stack)
    override = _profile_override(where, name) if endpoints == Endpoints() else None
    if override is not None:
        # The profile holds the account's credentials already (a CI role's session): assuming the
        # declared role from it would need that role to trust every CI role.
        profile, role_arn = override, None
    return Account(
        name=name,
        account_id=account_id,
        region=region,
        aliases=tuple(aliases),
        profile=profile,
        role_arn=role_arn,
        endpoints=endpoints,
        backend=sections["backend"],
        network=sections["network"],
        sizing=sections["sizing"],
        logs_read_rate=None if rate is None else float(rate),
        ci=ci,
    )


class Accounts:
    """The declared accounts, looked up by name, alias or `all`."""

    def __init__(self, config: dict[str, Any] | None = None, stack: LocalStackSettings | None = None):
        config = project_config() if config is None else config
        stack = stack or LocalStackSettings.load()
        declared = config.get("accounts") or {}
        if not isinstance(declared, dict):
            raise ConfigError("accounts: must be a mapping of account name to settings")
        raw_accounts = {"local": dict(BUILTIN_LOCAL), **declared}
        if isinstance(declared.get("local"), dict) or declared.get("local") is None:
            raw_accounts["local"] = {**BUILTIN_LOCAL, **(declared.get("local") or {})}
        self._accounts = {name: _parse_account(name, raw, stack) for name, raw in raw_accounts.items()}
        self._aliases: dict[str, str] = {}
        for account in self._accounts.values():
            for alias in account.aliases:
                other = self._aliases.get(alias) or (alias if alias in self._accounts else None)
                if other:
                    raise ConfigError(
                        f"accounts.{account.name}.aliases: '{alias}' already names account {other}"
                    )
                self._aliases[alias] = account.name
        default = config.get("default_account", "local")
        key = self._aliases.get(default, default) if isinstance(default, str) else None
        self.default = self._accounts.get(key) if key is not None else None
        if self.default is None:
            raise ConfigError(
                f"default_account: must name a declared account ({', '.join(self.names)}), got {default!r}"
            )

    @property
    def names(self) -> list[str]:
        return list(self._accounts)

    def describe(self) -> dict[str, Any]:
        """The listing `accounts --json` prints: every account in declaration order (`local` first),
        the default one, and the first account on AWS (where CI's builds go first), or None."""
        first = next((account.name for account in self._accounts.values() if account.on_aws), None)
        assert self.default is not None
        return {
            "default": self.default.name,
            "first_real": first,
            "accounts": [
                {
                    **account.describe(),
                    "default": account is self.default,
                    "first_real": account.name == first,
                }
                for account in self._accounts.values()
            ],
        }

    def get(self, name: str) -> Account:
        key = self._aliases.get(name, name)
        try:
            return self._accounts[key]
        except KeyError:
            raise UserError(f"unknown account {name!r} (known: {', '.join(self.names)})") from None

    def select(self, names: list[str] | tuple[str, ...] | str | None) -> list[Account]:
        """Accounts named on the command line: none -> the default, `all` -> every one, no repeats."""
        if names is None or names == [] or names == ():
            return [self.default]  # type: ignore[list-item]
        if isinstance(names, str):
            names = [names]
        if "all" in names:
            return list(self._accounts.values())
        chosen: dict[str, Account] = {}
        for name in names:
            if not isinstance(name, str) or not name.strip():
                raise UserError("--account: empty account name")
            account = self.get(name.strip())
            chosen.setdefault(account.name, account)
        return list(chosen.values())
