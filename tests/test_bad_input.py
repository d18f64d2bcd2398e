"""Bad input is refused before anything happens.

Each refusal on the command line exits non-zero with one line on stderr that names the field
and says why, leaves every file of the project (its state directory included) byte for byte as
it was, and sends nothing anywhere: the project's accounts, the local stack's ports and the
docker engine's address all point at a loopback server that answers 500 and records every
request it gets. None of this needs an emulator, a registry or a docker engine.

The validators are also driven by hypothesis, in this process: any input is either accepted,
and then keeps the rule, or refused with a UserError whose message is one line naming the field.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from batchform import jobs
from batchform.accounts import Accounts
from batchform.cli.values import parse_depends_on, parse_env
from batchform.errors import ConfigError, FieldError, UserError
from batchform.images import discover
from batchform.releases import Releases
from batchform.settings import LocalStackSettings, Paths
from batchform.sources import validate_source
from conftest import RELEASE_IMAGES, missing
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
ACCOUNT_IDS = {"bad-a": "111111111111", "bad-b": "222222222222"}
A_JOB_ID = "8bef592f-1d2e-4c3b-9a7f-0123456789ab"  # well formed; never looked up here
REFUSED = "bad inputs refused"
PROPERTY = hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SOURCE = """\
# What account {account} runs.

compute:
  type: FARGATE
  max_vcpus: 4

images:
  alpha:
    build: 3  # bumped by invoke bump

jobs:
  worker:
    image: alpha
    vcpus: 0.25
    memory: 512
    timeout_seconds: 600
    environment:
      MODE: batch
"""


# ---- the recorder: where every AWS, registry and docker call of the project goes -----------------


class Recorder:
    """An HTTP server on loopback that answers 500 to everything and remembers each request."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                seen.append(f"{self.command} {self.path}")
                body = b"nothing is served here"
                self.send_response(500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = answer  # noqa: N815

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


# ---- the project -------------------------------------------------------------------------------


def recorded_config(port: int) -> dict[str, Any]:
    endpoint = f"http://127.0.0.1:{port}"
    return {
        "default_account": "bad-a",
        "accounts": {
            name: {
                "account_id": account_id,
                "region": "us-east-1",
                "endpoints": {"aws": endpoint, "registry": f"{endpoint}/{account_id}"},
            }
            for name, account_id in ACCOUNT_IDS.items()
        },
        # The built-in local account reaches the recorder too.
        "local_stack": {"emulator_port": port, "registry_port": port},
    }


def deployed_outputs(account: str) -> dict[str, Any]:
    """What terraform's outputs say account runs: job worker, as the outputs cache holds it."""
    arn = f"arn:aws:batch:us-east-1:{ACCOUNT_IDS[account]}"
    return {
        "jobs": {
            "worker": {
                "definition": f"{arn}:job-definition/batchform-{account}-worker",
                "queue": f"{arn}:job-queue/batchform-{account}-default",
                "log_group": f"/batchform/{account}/worker",
            }
        }
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, recorder: Recorder) -> Path:
    """A valid project: accounts bad-a and bad-b, images alpha and beta, each account's source
    (alpha at build 3, job worker) rendered, and terraform outputs cached, so that only the bad
    value of a case is wrong."""
    if shutil.which("terraform") is None:
        missing("terraform")  # rendering the valid variables lays them out with terraform fmt
    root = tmp_path_factory.mktemp("bad-input") / "project"
    (root / "terraform" / "accounts").mkdir(parents=True)
    for tf in (REPO / "terraform").glob("*.tf"):
        (root / "terraform" / tf.name).symlink_to(tf)
    (root / "modules").symlink_to(REPO / "modules")
    for image in RELEASE_IMAGES:
        context = root / "images" / image
        context.mkdir(parents=True)
        (context / "Dockerfile").write_text("FROM scratch\nCOPY build.txt /build.txt\n")
        (context / "build.txt").write_text(f"{image} 1\n")
    config = recorded_config(recorder.port)
    (root / "batchform.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    home = root / ".batchform"
    for account in ACCOUNT_IDS:
        (root / "terraform" / "accounts" / f"{account}.yaml").write_text(SOURCE.format(account=account))
        cache = home / "terraform" / account / "outputs.json"
        cache.parent.mkdir(parents=True)
        cache.write_text(json.dumps(deployed_outputs(account), indent=2) + "\n")
    releases = template_releases(root)
    releases.render()
    assert not releases.stale()
    return root


def template_releases(root: Path) -> Releases:
    config = yaml.safe_load((root / "batchform.yaml").read_text())
    stack = LocalStackSettings.load(config)
    return Releases(Accounts(config, stack), Paths(root=root, home=root / ".batchform"), echo=lambda _: None)


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(template, root, symlinks=True)
    return root


def tree(root: Path) -> dict[str, str]:
    """Every entry under root: a file by its bytes' hash, a link by its target (not followed: modules/
    and the .tf files are the repository's own), a directory by its presence."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[relative] = f"link {os.readlink(path)}"
            elif path.is_dir():
                found[relative] = "directory"
            else:
                found[relative] = f"file {hashlib.sha256(path.read_bytes()).hexdigest()}"
    return found


def run_cli(root: Path, port: int, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BATCHFORM_", "DOCKER_"))}
    env.update(
        AWS_ACCESS_KEY_ID="batchform-test",
        AWS_SECRET_ACCESS_KEY="batchform-test",  # noqa: S105 - a dummy that grants nothing
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(root.parent / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(root.parent / "no-aws-credentials"),
        BATCHFORM_HOME=str(root / ".batchform"),
        BATCHFORM_EMULATOR_PORT=str(port),
        BATCHFORM_REGISTRY_PORT=str(port),
        DOCKER_HOST=f"tcp://127.0.0.1:{port}",
    )
    return subprocess.run(
        [sys.executable, "-m", "batchform", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# ---- changes a case makes to the valid project before it runs ------------------------------------


def edit_source(old: str, new: str, account: str = "bad-a") -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / "terraform" / "accounts" / f"{account}.yaml"
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))

    return edit


def write_file(relative: str, text: str) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        (root / relative).write_text(text)

    return write


def edit_config(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / "batchform.yaml"
        config = yaml.safe_load(path.read_text())
        change(config)
        path.write_text(yaml.safe_dump(config, sort_keys=False))

    return edit


def deployed_worker(**keys: Any) -> Callable[[Path], None]:
    """Terraform's outputs for account bad-a saying more of job worker (its queue, its tags)."""

    def edit(root: Path) -> None:
        cache = root / ".batchform" / "terraform" / "bad-a" / "outputs.json"
        outputs = json.loads(cache.read_text())
        outputs["jobs"]["worker"].update(keys)
        cache.write_text(json.dumps(outputs, indent=2) + "\n")

    return edit


def account_a(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda config: change(config["accounts"]["bad-a"])


def rename_account_a(new: str) -> Callable[[dict[str, Any]], None]:
    def rename(config: dict[str, Any]) -> None:
        config["accounts"][new] = config["accounts"].pop("bad-a")
        config["default_account"] = "bad-b"

    return rename


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    field: str  # the line names this: a flag, a key path or a file
    reason: str  # a regular expression for why
    setup: Callable[[Path], None] | None = None


def case(id_: str, *args: str, field: str, reason: str, setup: Callable[[Path], None] | None = None) -> Any:
    return pytest.param(Case(args, field, reason, setup), id=id_)


SUBMIT = ("submit", "worker", "--account", "bad-a")
MANY_DEPENDENCIES = tuple(arg for i in range(21) for arg in ("--depends-on", str(uuid.UUID(int=i + 1))))

CASES = [
    # build numbers
    case("bump-build-0", "bump", "alpha", "0", "--account", "bad-a", field="build '0'", reason="positive"),
    case(
        "bump-build-minus-1",
        *("bump", "alpha", "-1", "--account", "bad-a"),
        field="build '-1'",
        reason="positive",
    ),
    case("bump-build-1.5", "bump", "alpha", "1.5", field="build '1.5'", reason="whole number"),
    case(
        "bump-build-42a",
        *("bump", "alpha", "42a", "--account", "bad-b"),
        field="build '42a'",
        reason="whole number",
    ),
    case("bump-build-huge", "bump", "alpha", "9" * 30, field="build '999", reason="whole number"),
    case(
        "source-build-0",
        "render",
        field="bad-a.yaml: images.alpha.build",
        reason="positive whole number",
        setup=edit_source("build: 3", "build: 0"),
    ),
    # image names
    case("bump-unknown-image", "bump", "gamma", "4", field="image 'gamma'", reason="unknown"),
    case("bump-empty-image", "bump", "", "4", field="image ''", reason="names are lowercase"),
    case("bump-image-with-space", "bump", "al pha", "4", field="image 'al pha'", reason="names are"),
    case("bump-image-with-slash", "bump", "../alpha", "4", field="image '../alpha'", reason="names are"),
    case("bump-image-too-long", "bump", "a" * 300, "4", field="image 'aaaa", reason="unknown"),
    case("bump-image-with-newline", "bump", "alpha\n", "4", field="image 'alpha\\n'", reason="names are"),
    case(
        "bump-image-not-declared-by-account",
        *("bump", "beta", "4", "--account", "bad-a"),
        field="image beta",
        reason="not declared for account bad-a",
    ),
    case(
        "build-image-with-slash", "build", "--image", "alpha/x", field="image 'alpha/x'", reason="names are"
    ),
    case("push-unknown-image", "push", "--image", "gamma", field="image 'gamma'", reason="unknown"),
    case("images-list-limit-text", "images.list", "--limit", "ten", field="--limit", reason="whole number"),
    # account names
    case("bump-empty-account", "bump", "alpha", "4", "--account", "", field="--account", reason="empty"),
    case(
        "plan-account-with-space", "tf.plan", "--account", "bad a", field="account 'bad a'", reason="unknown"
    ),
    case(
        "plan-account-with-slash",
        *("tf.plan", "--account", "../bad-a"),
        field="account '../bad-a'",
        reason="unknown",
    ),
    case("plan-account-too-long", "tf.plan", "--account", "b" * 100, field="account 'bbbb", reason="unknown"),
    case("jobs-list-empty-account", "jobs.list", "--account", "", field="--account", reason="empty"),
    case("images-list-empty-account", "images.list", "--account", "", field="--account", reason="empty"),
    case(
        "promote-to-unknown-account",
        *("promote", "alpha", "--from", "bad-a", "--to", "nope"),
        field="account 'nope'",
        reason="unknown",
    ),
    case(
        "promote-to-the-same-account",
        *("promote", "alpha", "--from", "bad-a", "--to", "bad-a"),
        field="--to bad-a",
        reason="same account as --from",
    ),
    # job names
    case("submit-unknown-job", "submit", "nope", field="job 'nope'", reason="unknown"),
    case("submit-empty-job", "submit", "", field="job ''", reason="unknown"),
    case("submit-job-with-slash", "submit", "../worker", field="job '../worker'", reason="unknown"),
    case("submit-job-with-newline", "submit", "work\ner", field="job 'work\\ner'", reason="unknown"),
    case(
        "submit-name-with-space", *SUBMIT, "--name", "my job", field="--name 'my job'", reason="job names are"
    ),
    case("submit-name-too-long", *SUBMIT, "--name", "n" * 129, field="--name 'nnn", reason="1-128"),
    case(
        "submit-name-with-newline",
        *SUBMIT,
        *("--name", "run\n"),
        field="--name 'run\\n'",
        reason="job names are",
    ),
    # the account source, terraform/accounts/<account>.yaml
    case(
        "source-unknown-key",
        "render",
        field="bad-a.yaml: colour",
        reason="unknown key",
        setup=edit_source("images:", "colour: red\n\nimages:"),
    ),
    case(
        "source-unknown-job-key",
        *("tf.plan", "--account", "bad-a"),
        field="bad-a.yaml: jobs.worker.cpus",
        reason="unknown key",
        setup=edit_source("    memory: 512", "    memory: 512\n    cpus: 2"),
    ),
    case(
        "source-wrong-type",
        "render",
        field="bad-a.yaml: jobs.worker.vcpus",
        reason="must be a number",
        setup=edit_source("vcpus: 0.25", "vcpus: lots"),
    ),
    case(
        "source-missing-build",
        *("bump", "alpha", "4", "--account", "bad-a"),
        field="bad-a.yaml: images.alpha.build",
        reason="required",
        setup=edit_source("    build: 3  # bumped by invoke bump\n", "    keep_builds: 5\n"),
    ),
    case(
        "source-invalid-yaml",
        "render",
        field="bad-a.yaml:",
        reason="invalid YAML",
        setup=edit_source("  max_vcpus: 4", "  max_vcpus: [4"),
    ),
    case(
        "source-of-no-declared-account",
        "render",
        field="terraform/accounts/ghost.yaml",
        reason="no account ghost in batchform.yaml",
        setup=write_file("terraform/accounts/ghost.yaml", SOURCE.format(account="ghost")),
    ),
    case(
        "source-value-not-a-terraform-number",
        "render",
        field="bad-a.yaml: jobs.worker.vcpus",
        reason="not a number terraform accepts",
        setup=edit_source("vcpus: 0.25", "vcpus: .nan"),
    ),
    case(
        "source-value-terraform-cannot-hold",
        "render",
        field="bad-a.yaml: compute",
        reason="cannot write a set",
        setup=edit_source("  max_vcpus: 4", "  max_vcpus: 4\n  instance_types: !!set {m5.large: null}"),
    ),
    case(
        "source-text-that-is-not-unicode",
        "render",
        field="bad-a.yaml: jobs.worker.environment",
        reason="not valid Unicode",
        setup=edit_source("MODE: batch", 'MODE: "\\ud800"'),
    ),
    # batchform.yaml
    case(
        "config-unknown-key",
        "render",
        field="accounts.bad-a.colour",
        reason="unknown key",
        setup=edit_config(account_a(lambda a: a.update(colour="red"))),
    ),
    case(
        "config-account-id-not-text",
        *("tf.plan", "--account", "bad-a"),
        field="accounts.bad-a.account_id",
        reason="12 digits, quoted",
        setup=edit_config(account_a(lambda a: a.update(account_id=111111111111))),
    ),
    case(
        "config-missing-account-id",
        "releases",
        field="accounts.bad-a.account_id",
        reason="required",
        setup=edit_config(account_a(lambda a: a.pop("account_id"))),
    ),
    case(
        "config-account-name-too-long",
        "render",
        field="accounts.aaaa",
        reason="at most 31",
        setup=edit_config(rename_account_a("a" * 40)),
    ),
    case(
        "config-invalid-yaml",
        *SUBMIT,
        field="batchform.yaml:",
        reason="invalid YAML",
        setup=write_file("batchform.yaml", "accounts: {bad-a: [\n"),
    ),
    # environment overrides
    case("env-name-with-hyphen", *SUBMIT, "--env", "MY-VAR=1", field="--env 'MY-VAR'", reason="names are"),
    case("env-without-equals", *SUBMIT, "--env", "GREETING", field="--env 'GREETING'", reason="NAME=VALUE"),
    case(
        "env-name-reserved",
        *SUBMIT,
        *("--env", "AWS_BATCH_JOB_ID=1"),
        field="--env AWS_BATCH",
        reason="reserved",
    ),
    case("env-name-with-newline", *SUBMIT, "--env", "MODE\n=x", field="--env 'MODE\\n'", reason="names are"),
    case("env-value-over-30-KiB", *SUBMIT, "--env", "BIG=" + "x" * 31_000, field="--env", reason="30 KiB"),
    # array sizes and dependencies
    case("array-size-1", *SUBMIT, "--array-size", "1", field="--array-size 1", reason="from 2 to 10000"),
    case("array-size-10001", *SUBMIT, "--array-size", "10001", field="--array-size 10001", reason="from 2"),
    case("depends-on-21-jobs", *SUBMIT, *MANY_DEPENDENCIES, field="--depends-on", reason="at most 20"),
    case(
        "depends-on-bad-type",
        *SUBMIT,
        *("--depends-on", "abc:ONE"),
        field="--depends-on abc:ONE",
        reason="expected",
    ),
    case(
        "depends-on-malformed-id",
        *SUBMIT,
        *("--depends-on", "worker-20261123T201830Z"),
        field="--depends-on worker-20261123T201830Z",
        reason="a job id is a UUID",
    ),
    case(
        "depends-on-id-with-bad-child-index",
        *SUBMIT,
        *("--depends-on", f"{A_JOB_ID}:x1:N_TO_N", "--array-size", "2"),
        field=f"--depends-on {A_JOB_ID}:x1:N_TO_N",
        reason="a job id is a UUID",
    ),
    # shares and priorities of fair-share queues
    case(
        "share-with-hyphen", *SUBMIT, "--share", "team-a", field="--share 'team-a'", reason="letters, digits"
    ),
    case("share-too-long", *SUBMIT, "--share", "s" * 256, field="--share 'sss", reason="1-255"),
    case(
        "priority-10000",
        *SUBMIT,
        "--share",
        "a",
        "--priority",
        "10000",
        field="--priority 10000",
        reason="0 to",
    ),
    case("priority-word", *SUBMIT, "--priority", "high", field="--priority 'high'", reason="whole number"),
    case(
        "share-missing-on-fair-share-queue",
        *SUBMIT,
        field="--share",
        reason="fair-share scheduling policy",
        setup=deployed_worker(fair_share=True, share_identifier=None),
    ),
    case(
        "share-on-queue-without-policy",
        *SUBMIT,
        *("--share", "team_a"),
        field="--share team_a",
        reason="no fair-share scheduling policy",
        setup=deployed_worker(fair_share=False),
    ),
    case(
        "tags-over-50-with-the-definitions",
        *SUBMIT,
        *(arg for i in range(5) for arg in ("--tag", f"k{i}=v")),
        field="--tag",
        reason="51 tags .* more than the 50",
        setup=deployed_worker(tags={f"d{i}": "v" for i in range(45)}),
    ),
    case(
        "each-over-8-KiB-without-a-data-bucket",
        *SUBMIT,
        *("--each", "items.txt"),
        field="--each",
        reason="do not fit in the 8192 characters .* run invoke tf.apply --account bad-a",
        setup=write_file("items.txt", "".join(f"input/{i:04d}.csv\n" for i in range(1000))),
    ),
    case(
        "each-without-items",
        *SUBMIT,
        *("--each", "items.txt"),
        field="--each items.txt",
        reason="no items",
        setup=write_file("items.txt", "\n  \n"),
    ),
    # timeouts and retries
    case("timeout-59", *SUBMIT, "--timeout", "59", field="--timeout 59", reason="at least 60 seconds"),
    case("timeout-with-unit", *SUBMIT, "--timeout", "10m", field="--timeout '10m'", reason="whole number"),
    case("retries-0", *SUBMIT, "--retries", "0", field="--retries 0", reason="from 1 to 10"),
    case("retries-11", *SUBMIT, "--retries", "11", field="--retries 11", reason="from 1 to 10"),
    case(
        "runnable-timeout-not-a-number",
        *SUBMIT,
        *("--wait", "--runnable-timeout", "soon"),
        field="--runnable-timeout 'soon'",
        reason="seconds",
    ),
    # job ids
    case("follow-empty-id", "jobs.follow", "", field="JOB_ID ''", reason="job id is a UUID"),
    case("logs-id-with-slash", "jobs.logs", "../../etc/passwd", field="JOB_ID '../..", reason="UUID"),
    case(
        "logs-follow-id-too-long", "jobs.logs", A_JOB_ID * 3, "--follow", field="JOB_ID '8bef", reason="UUID"
    ),
    case(
        "cancel-job-name-not-id",
        "jobs.cancel",
        "worker-20261123T201830Z",
        field="JOB_ID 'worker-",
        reason="UUID",
    ),
    case(
        "follow-runnable-timeout-negative",
        *("jobs.follow", A_JOB_ID, "--runnable-timeout=-5"),
        field="--runnable-timeout '-5'",
        reason="positive",
    ),
]


@pytest.mark.terraform
@pytest.mark.parametrize("bad", CASES)
def test_bad_input_is_refused_in_one_line_changing_nothing_and_calling_nothing(
    bad: Case, project: Path, recorder: Recorder, tally: Counter
) -> None:
    if bad.setup is not None:
        bad.setup(project)
    before = tree(project)
    recorder.requests.clear()

    result = run_cli(project, recorder.port, bad.args)

    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode != 0, output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"stderr is not one line: {result.stderr!r}"
    assert bad.field in lines[0], f"{bad.field!r} not named in {lines[0]!r}"
    assert re.search(bad.reason, lines[0]), f"no reason {bad.reason!r} in {lines[0]!r}"
    assert recorder.requests == [], f"sent before refusing: {recorder.requests}"
    assert tree(project) == before, "a file changed"
    tally[REFUSED] += 1


CATEGORIES = "build image account job source config env array depends timeout retries id".split()


def test_the_cases_cover_every_category_with_at_least_thirty_distinct_inputs() -> None:
    ids = [param.id for param in CASES]
    assert len(ids) == len(set(ids)) >= 30
    for category in CATEGORIES:
        assert any(category in id_ for id_ in ids), category


# ---- the validators, driven by hypothesis ----------------------------------------------------------


def refused_in_one_line(exc: UserError, *fields: str) -> None:
    """The message is one non-empty line that names one of `fields`."""
    message = str(exc)
    assert message.strip() and len(message.splitlines()) == 1, repr(message)
    assert any(f in message for f in fields), f"none of {fields} in {message!r}"


def refused_naming_the_field(exc: UserError, field: str, flag: str) -> None:
    """One line naming `field` when the request refuses it, or `flag` when its text did not parse."""
    if isinstance(exc, FieldError):
        assert field in exc.fields and not str(exc).startswith("--"), repr(str(exc))
        refused_in_one_line(exc, field)
    else:
        refused_in_one_line(exc, flag)


def awkward_text() -> st.SearchStrategy[str]:
    """Text with what breaks validators: separators, line breaks, quotes, digits, non-ASCII."""
    specials = st.sampled_from(list(" \t\n\r\x0b\x85\u2028/\\.:=-_'\"$%{}aZ09é"))
    return st.text(st.one_of(specials, st.characters()), max_size=40)


def run_property(check: Callable[[Any], bool], strategy: st.SearchStrategy[Any], tally: Counter) -> int:
    """Run check over the strategy's examples; returns (and tallies) how many it saw refused."""
    refused = Counter()

    @PROPERTY
    @given(strategy)
    def prop(value: Any) -> None:
        if check(value) is False:
            refused["n"] += 1

    prop()
    tally[REFUSED] += refused["n"]
    return refused["n"]


def test_build_numbers_are_positive_whole_numbers_or_refused_naming_the_build(tally: Counter) -> None:
    def check(text: str) -> bool:
        try:
            number = Releases._parse_build(text)
        except UserError as exc:
            refused_in_one_line(exc, "build")
            return False
        assert isinstance(number, int) and number >= 1 and str(number) == text.strip()
        return True

    numbers = st.from_regex(r"\A\s?[+-]?[0-9]{1,30}(\.[0-9])?[a-z]?\s?\Z")
    assert run_property(check, st.one_of(numbers, awkward_text()), tally) > 0


@pytest.mark.terraform
def test_image_names_are_known_images_or_refused_naming_the_image(template: Path, tally: Counter) -> None:
    p = Paths(root=template, home=template / ".batchform")

    def check(name: str) -> bool:
        try:
            [spec] = discover([name], p)
        except UserError as exc:
            refused_in_one_line(exc, "image")
            return False
        assert spec.name == name and name in RELEASE_IMAGES
        return True

    names = st.one_of(st.sampled_from([*RELEASE_IMAGES, "alpha\n", "Alpha", "a" * 200]), awkward_text())
    assert run_property(check, names, tally) > 0


@pytest.mark.terraform
def test_account_names_are_declared_names_or_refused_naming_the_account(
    template: Path, tally: Counter
) -> None:
    accounts = template_releases(template).accounts

    def check(name: str) -> bool:
        try:
            chosen = accounts.select([name])
        except UserError as exc:
            refused_in_one_line(exc, "account")
            return False
        assert name == "all" or [a.name for a in chosen] == [name.strip()]
        return True

    names = st.one_of(
        st.sampled_from(["bad-a", "bad-b", "local", " bad-a", "bad-a\n", "all"]), awkward_text()
    )
    assert run_property(check, names, tally) > 0


def test_env_overrides_are_names_and_values_or_refused_naming_env(tally: Counter) -> None:
    def check(pair: str) -> bool:
        try:
            env = parse_env([pair])
            jobs.validate(jobs.SubmitRequest("worker", env=env))
        except UserError as exc:
            refused_naming_the_field(exc, "env", "--env")
            return False
        name, _, value = pair.partition("=")
        assert env == {name: value}
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and not name.startswith("AWS_BATCH")
        return True

    pairs = st.one_of(
        st.builds(lambda n, v: f"{n}={v}", awkward_text(), awkward_text()),
        st.builds(
            lambda n, v: f"{n}={v}", st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,8}\n?\Z"), awkward_text()
        ),
        st.builds(lambda n: f"BIG={'x' * n}", st.integers(30_000, 40_000)),
        awkward_text(),
    )
    assert run_property(check, pairs, tally) > 0


NUMBERS = ("array_size", "timeout", "retries")
RANGES = {"array_size": (2, 10_000), "timeout": (60, None), "retries": (1, 10)}


def test_array_sizes_timeouts_and_retries_are_in_range_or_refused_naming_the_field(tally: Counter) -> None:
    def within(key: str, value: int) -> bool:
        low, high = RANGES[key]
        return low <= value and (high is None or value <= high)

    def check(values: dict[str, Any]) -> bool:
        try:
            request = jobs.SubmitRequest("worker", **values)
            jobs.validate(request)
        except FieldError as exc:
            bad = [
                key
                for key, value in values.items()
                if value is not None
                and not (re.fullmatch(r"\s*[+-]?[0-9]+\s*", str(value)) and within(key, int(value)))
            ]
            assert bad, f"refused good values {values}: {exc}"
            assert exc.field in bad, f"{exc.field} is not one of {bad}"
            refused_in_one_line(exc, *bad)
            return False
        for key in NUMBERS:
            value = getattr(request, key)
            assert value is None or (isinstance(value, int) and within(key, value))
        return True

    value = st.one_of(
        st.none(), st.integers(-5, 20_000), st.integers().map(str), awkward_text(), st.floats().map(str)
    )
    assert run_property(check, st.fixed_dictionaries({key: value for key in NUMBERS}), tally) > 0


def test_dependency_lists_are_within_the_limits_or_refused_naming_depends_on(tally: Counter) -> None:
    def check(case: tuple[list[str], int | None]) -> bool:
        values, array_size = case
        try:
            request = jobs.SubmitRequest("worker", depends_on=parse_depends_on(values), array_size=array_size)
            jobs.validate(request)
        except UserError as exc:
            refused_naming_the_field(exc, "depends_on", "--depends-on")
            return False
        assert len(request.depends_on) <= 20
        assert all(kind in (None, "N_TO_N", "SEQUENTIAL") for _, kind in request.depends_on)
        return True

    value = st.one_of(
        st.sampled_from([A_JOB_ID, f"{A_JOB_ID}:N_TO_N", "SEQUENTIAL", f"{A_JOB_ID}:3", "x:ONE"]),
        awkward_text(),
    )
    lists = st.tuples(st.lists(value, max_size=25), st.sampled_from([None, 2]))
    assert run_property(check, lists, tally) > 0


def test_job_ids_are_batch_ids_or_refused_naming_the_id(tally: Counter) -> None:
    def check(text: str) -> bool:
        try:
            jobs.check_job_id(text)
        except FieldError as exc:
            assert exc.field == "job_id"
            refused_in_one_line(exc, "job_id")
            return False
        assert re.fullmatch(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(:[0-9]+)?(#[0-9]+)?", text)
        return True

    ids = st.one_of(
        st.uuids().map(str),
        st.builds(lambda u, i: f"{u}:{i}", st.uuids(), st.integers(0, 9999)),
        st.uuids().map(lambda u: f"{u}\n"),
        awkward_text(),
    )
    assert run_property(check, ids, tally) > 0


def test_account_declarations_are_well_formed_or_refused_naming_the_key(tally: Counter) -> None:
    def check(case: tuple[str, dict[str, Any]]) -> bool:
        name, raw = case
        try:
            accounts = Accounts({"accounts": {name: raw}}, LocalStackSettings.load({}))
        except UserError as exc:
            refused_in_one_line(exc, "accounts.")
            return False
        account = accounts.get(name)
        assert re.fullmatch(r"[a-z][a-z0-9-]{0,30}", account.name)
        assert re.fullmatch(r"[0-9]{12}", account.account_id)
        assert re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-[0-9]", account.region)
        return True

    names = st.one_of(st.sampled_from(["dev", "dev\n", "Dev", "d" * 32]), awkward_text())
    account_ids = st.one_of(
        st.sampled_from(["111111111111", "111111111111\n", 111111111111, "1111"]), awkward_text()
    )
    regions = st.one_of(st.sampled_from(["eu-west-1", "eu-west-1\n", "EU"]), awkward_text())
    raws = st.fixed_dictionaries(
        {"account_id": account_ids}, optional={"region": regions, "colour": st.just(1)}
    )
    assert run_property(check, st.tuples(names, raws), tally) > 0


# Text a YAML source can hold: besides the awkward, control characters, private use and lone
# surrogates (a double-quoted "\ud800" reads as one).
SOURCE_TEXT = st.one_of(awkward_text(), st.text(st.characters(categories=["Cs", "Co", "Cc"]), max_size=3))
# Any value a YAML source can hold.
YAML_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        SOURCE_TEXT,
        st.dates(),
        st.binary(max_size=4),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(SOURCE_TEXT, inner, max_size=3),
        st.sets(st.integers(), max_size=2),
    ),
    max_leaves=6,
)
# A job field and its value: mostly of the field's type with hostile contents, sometimes anything.
JOB_FIELD_VALUES = st.one_of(
    st.tuples(
        st.sampled_from(["environment", "tags", "parameters"]),
        st.dictionaries(SOURCE_TEXT, SOURCE_TEXT, max_size=3),
    ),
    st.tuples(st.just("command"), st.lists(SOURCE_TEXT, max_size=3)),
    st.tuples(st.just("owner"), SOURCE_TEXT),
    st.tuples(st.sampled_from(["vcpus", "timeout_seconds"]), st.one_of(st.floats(), st.integers())),
    st.tuples(
        st.just("policy_statements"),
        st.lists(st.dictionaries(SOURCE_TEXT, YAML_VALUES, max_size=3), max_size=2),
    ),
    st.tuples(st.sampled_from(["environment", "command", "vcpus", "owner", "colour"]), YAML_VALUES),
)
JOB_NAMES = st.one_of(st.just("worker"), st.just("worker"), st.just("worker"), awkward_text())


@pytest.mark.terraform
def test_rendering_a_source_gives_terraform_variables_or_refuses_naming_the_field(
    template: Path, tally: Counter
) -> None:
    releases = template_releases(template)

    def check(case: tuple[str, tuple[str, Any]]) -> bool:
        job, (key, value) = case
        data = {
            "images": {"alpha": {"build": 3}},
            "jobs": {job: {"image": "alpha", key: value}},
        }
        try:
            text = yaml.safe_dump(data, allow_unicode=True)
        except yaml.YAMLError:
            return True  # not a source anyone can write
        try:
            checked = validate_source("bad-a.yaml", yaml.safe_load(text))
            rendered = releases.render_text("bad-a", checked)
        except ConfigError as exc:
            refused_in_one_line(exc, "bad-a.yaml: ")
            assert str(exc).startswith("bad-a.yaml: ")
            return False
        assert "jobs = {" in rendered and "\n}\n" in rendered
        return True

    assert run_property(check, st.tuples(JOB_NAMES, JOB_FIELD_VALUES), tally) > 0
