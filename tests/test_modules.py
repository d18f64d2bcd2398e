"""Tests of the reusable Terraform modules under modules/.

- every file is `terraform fmt` clean;
- every module and every example initialises offline and validates (a module through its
  `terraform test` run, whose run blocks plan, and so validate, all of it);
- every module's `terraform test` suite (mocked AWS provider, no credentials) passes;
- every README's Inputs/Outputs tables are what batchform.devtools.moduledocs generates (no drift),
  and moduledocs itself detects and repairs drift.

Terraform runs are independent, so they are started together on a small thread pool when the
session starts (only for the tests that were selected) and each test waits for its own result.
Provider plugins come from the offline mirror when there is one; `.terraform` data directories
live under pytest's temporary directory and lock files created in the repository are removed.
validate and test reach one provider process started for the session (`schema_only_provider`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from batchform.devtools import moduledocs
from batchform.terraform import cli_config_file

REPO_ROOT = Path(__file__).resolve().parents[1]
MODULES_DIR = REPO_ROOT / "modules"
MODULES = sorted(path.name for path in MODULES_DIR.iterdir() if (path / "versions.tf").is_file())
EXAMPLES = sorted(
    str(path.relative_to(MODULES_DIR))
    for path in MODULES_DIR.glob("*/examples/*")
    if path.is_dir() and any(path.glob("*.tf"))
)
COMMAND_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class TerraformResult:
    """Outcome of one terraform command."""

    command: tuple[str, ...]
    cwd: Path
    returncode: int
    output: str

    def report(self) -> str:
        """Human-readable summary for assertion messages."""
        where = self.cwd.relative_to(REPO_ROOT) if self.cwd.is_relative_to(REPO_ROOT) else self.cwd
        return f"`{' '.join(self.command)}` in {where} exited {self.returncode}:\n{self.output}"


class TerraformRunner:
    """Runs terraform commands in module directories, each with its own data directory.

    `terraform init` calls are serialised (they write lock files into the modules);
    validate and test commands run concurrently on a thread pool.
    """

    def __init__(
        self, binary: str, env: dict[str, str], data_root: Path, workers: int, reattach: str
    ) -> None:
        self._binary = binary
        self._env = env
        self._reattach = reattach
        self._data_root = data_root
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="terraform")
        self._init_lock = threading.Lock()
        self._inits: dict[Path, TerraformResult] = {}
        self._futures: dict[tuple[str, Path], Future[TerraformResult]] = {}
        self._futures_lock = threading.Lock()

    def _data_dir(self, cwd: Path) -> Path:
        where = (
            cwd.relative_to(MODULES_DIR) if cwd.is_relative_to(MODULES_DIR) else cwd.relative_to(cwd.anchor)
        )
        return self._data_root / str(where).replace(os.sep, "__")

    def _run(self, cwd: Path, *args: str) -> TerraformResult:
        env = {**self._env, "TF_DATA_DIR": str(self._data_dir(cwd))}
        if args[0] != "init":  # init installs the provider as anyone's would; the rest reads its schema
            env["TF_REATTACH_PROVIDERS"] = self._reattach
        completed = subprocess.run(
            [self._binary, *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
        return TerraformResult(("terraform", *args), cwd, completed.returncode, completed.stdout)

    def _init(self, cwd: Path) -> TerraformResult:
        with self._init_lock:
            if cwd not in self._inits:
                self._inits[cwd] = self._run(cwd, "init", "-backend=false", "-input=false", "-no-color")
            return self._inits[cwd]

    def _execute(self, action: str, cwd: Path) -> TerraformResult:
        init = self._init(cwd)
        if init.returncode != 0:
            return init
        if action == "validate":
            return self._run(cwd, "validate", "-no-color")
        if action == "test":
            return self._run(cwd, "test", "-no-color")
        raise ValueError(f"unknown action {action!r}")

    def submit(self, action: str, cwd: Path) -> Future[TerraformResult]:
        """Start `action` (validate or test) in `cwd` unless it is already running; return its future."""
        key = (action, cwd)
        with self._futures_lock:
            if key not in self._futures:
                self._futures[key] = self._pool.submit(self._execute, action, cwd)
            return self._futures[key]

    def result(self, action: str, cwd: Path) -> TerraformResult:
        """Wait for (starting if needed) `action` in `cwd`."""
        return self.submit(action, cwd).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def clean_lock_files() -> Iterator[None]:
    """Remove the .terraform.lock.hcl files that the session creates inside modules/."""
    before = set(MODULES_DIR.rglob(".terraform.lock.hcl"))
    yield
    for lock_file in set(MODULES_DIR.rglob(".terraform.lock.hcl")) - before:
        lock_file.unlink(missing_ok=True)


def _selected(session: pytest.Session, test_name: str) -> list[str]:
    """Parameter values of the selected items of the parametrised test `test_name`."""
    return [
        item.callspec.params["target"]
        for item in session.items
        if getattr(item, "originalname", None) == test_name and hasattr(item, "callspec")
    ]


@pytest.fixture(scope="session")
def terraform(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    terraform_binary: str,
    schema_only_provider: str,
    clean_lock_files: None,
) -> Iterator[TerraformRunner]:
    """A runner that has already started every selected validate/test command, slowest first."""
    env = {
        **os.environ,
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
    }
    env.pop("TF_DATA_DIR", None)
    cli_config = cli_config_file()
    if cli_config is not None:
        env["TF_CLI_CONFIG_FILE"] = str(cli_config)
    workers = max(2, os.cpu_count() or 2)
    runner = TerraformRunner(
        terraform_binary,
        env,
        tmp_path_factory.mktemp("terraform-data"),
        workers=workers,
        reattach=schema_only_provider,
    )
    tested = _selected(request.session, "test_module_terraform_tests_pass")
    for module in dict.fromkeys(tested + _selected(request.session, "test_module_validates")):
        runner.submit("test", MODULES_DIR / module)
    for target in _selected(request.session, "test_example_validates"):
        runner.submit("validate", MODULES_DIR / target)
    yield runner
    runner.close()


# --------------------------------------------------------------------------- terraform


@pytest.mark.terraform
def test_modules_are_terraform_fmt_clean(terraform_binary: str) -> None:
    completed = subprocess.run(
        [terraform_binary, "fmt", "-check", "-recursive", "-diff", "-no-color", str(MODULES_DIR)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, f"terraform fmt would change these files:\n{completed.stdout}"


@pytest.mark.terraform
@pytest.mark.parametrize("target", MODULES)
def test_module_validates(terraform: TerraformRunner, target: str) -> None:
    # Each run block of `terraform test` plans the whole module, validating it, and one that does
    # not validate fails the run (the test below shows it): the module's test run is its validate,
    # one schema load instead of two.
    result = terraform.result("test", MODULES_DIR / target)
    assert result.returncode == 0, result.report()


@pytest.mark.terraform
def test_terraform_test_stops_on_a_module_that_does_not_validate(
    terraform: TerraformRunner, tmp_path: Path
) -> None:
    module = tmp_path / "log-groups"
    shutil.copytree(MODULES_DIR / "log-groups", module, ignore=shutil.ignore_patterns(".terraform*"))
    with (module / "outputs.tf").open("a") as outputs:
        outputs.write('\noutput "broken" {\n  value = aws_nothing.here.id\n}\n')
    tested = terraform.result("test", module)
    assert tested.returncode == 1, tested.report()
    assert "Reference to undeclared resource" in tested.output
    assert "0 passed, 1 failed" in tested.output


@pytest.mark.terraform
@pytest.mark.parametrize("target", EXAMPLES)
def test_example_validates(terraform: TerraformRunner, target: str) -> None:
    result = terraform.result("validate", MODULES_DIR / target)
    assert result.returncode == 0, result.report()


@pytest.mark.terraform
@pytest.mark.parametrize("target", MODULES)
def test_module_terraform_tests_pass(terraform: TerraformRunner, target: str) -> None:
    module_dir = MODULES_DIR / target
    assert list((module_dir / "tests").glob("*.tftest.hcl")), f"{target} has no terraform tests"
    result = terraform.result("test", module_dir)
    assert result.returncode == 0, result.report()
    assert "0 failed" in result.output, result.report()


# --------------------------------------------------------------------------- module layout


@pytest.mark.parametrize("target", MODULES)
def test_module_has_the_standard_layout(target: str) -> None:
    module_dir = MODULES_DIR / target
    for name in ("versions.tf", "variables.tf", "main.tf", "outputs.tf", "README.md"):
        assert (module_dir / name).is_file(), f"{target}/{name} is missing"
    example = module_dir / "examples" / "basic"
    for name in ("main.tf", "versions.tf"):
        assert (example / name).is_file(), f"{target}/examples/basic/{name} is missing"


def test_every_module_has_an_example() -> None:
    assert MODULES, "no modules found"
    assert {example.split("/")[0] for example in EXAMPLES} == set(MODULES)


# --------------------------------------------------------------------------- README tables


@pytest.mark.parametrize("target", MODULES)
def test_readme_tables_match_the_module(target: str) -> None:
    problems = moduledocs.check_readme(MODULES_DIR / target)
    assert problems == [], "\n".join(problems) + "\nRun: python -m batchform.devtools.moduledocs modules/*"


@pytest.fixture
def module_copy(tmp_path: Path) -> Path:
    """A scratch copy of one module (README, variables, outputs) to exercise moduledocs on."""
    source = MODULES_DIR / "batch-job-queue"
    target = tmp_path / "batch-job-queue"
    target.mkdir()
    for name in ("README.md", "variables.tf", "outputs.tf"):
        shutil.copy(source / name, target / name)
    return target


def test_moduledocs_detects_and_repairs_a_stale_readme(module_copy: Path) -> None:
    variables = module_copy / "variables.tf"
    variables.write_text(
        variables.read_text(encoding="utf-8")
        + '\nvariable "extra" {\n  description = "An added | input"\n  type        = list(string)\n'
        + "  default     = []\n}\n",
        encoding="utf-8",
    )
    readme = module_copy / "README.md"
    prose_before = readme.read_text(encoding="utf-8").split(moduledocs.BEGIN_MARKER)[0]

    problems = moduledocs.check_readme(module_copy)
    assert len(problems) == 1 and "README.md" in problems[0]
    assert moduledocs.main(["--check", str(module_copy)]) == 1

    assert moduledocs.update_readme(module_copy) is True
    assert moduledocs.check_readme(module_copy) == []
    assert moduledocs.update_readme(module_copy) is False
    assert moduledocs.main(["--check", str(module_copy)]) == 0

    text = readme.read_text(encoding="utf-8")
    assert text.split(moduledocs.BEGIN_MARKER)[0] == prose_before, "text outside the markers must be kept"
    expected_row = (
        '| <a name="input_extra"></a> [extra](#input_extra) '
        "| An added \\| input | `list(string)` | `[]` | no |"
    )
    assert expected_row in text


def test_moduledocs_reports_a_readme_without_markers(module_copy: Path) -> None:
    (module_copy / "README.md").write_text("# batch-job-queue\n", encoding="utf-8")
    problems = moduledocs.check_readme(module_copy)
    assert len(problems) == 1 and "markers" in problems[0]
    assert moduledocs.main(["--check", str(module_copy)]) == 1


def test_moduledocs_renders_types_defaults_and_required_inputs() -> None:
    tables = moduledocs.render_tables(MODULES_DIR / "batch-job-queue")
    lines = tables.splitlines()
    assert lines[0] == "## Inputs" and "## Outputs" in lines
    assert "| Name | Description | Type | Default | Required |" in lines
    assert "| Name | Description |" in lines

    row = next(line for line in lines if "[fair_share_policy]" in line)
    assert "<pre>object({<br/>  compute_reservation = optional(number, 0)<br/>" in row
    assert "| `null` | no |" in row

    row = next(line for line in lines if "[state]" in line)
    assert '| `string` | `"ENABLED"` | no |' in row

    row = next(line for line in lines if "[name]" in line and "input_name" in line)
    assert "| `string` | n/a | yes |" in row

    input_rows = [line for line in lines if line.startswith('| <a name="input_')]
    required = [line.endswith("| yes |") for line in input_rows]
    assert required == sorted(required, reverse=True), "required inputs are listed first"


def test_format_type_lays_out_nested_objects() -> None:
    formatted = moduledocs.format_type(
        "map(object({type = string, max_vcpus = number, tags = optional(map(string), {})}))"
    )
    assert formatted == (
        "map(object({\n"
        "  type      = string\n"
        "  max_vcpus = number\n"
        "  tags      = optional(map(string), {})\n"
        "}))"
    )
    assert moduledocs.format_type("list(string)") == "list(string)"
