"""Reading terraform's output as it comes: the plan by module, what an apply works on, the summary."""

from __future__ import annotations

from batchform.tfreport import TerraformReport, module_of

APPLY = """\
Terraform used the selected providers to generate the following execution plan.
Resource actions are indicated with the following symbols:
  + create
  ~ update in-place

Terraform will perform the following actions:

  # aws_iam_role.batch_service will be created
  + resource "aws_iam_role" "batch_service" {
    }

  # module.job_definitions.aws_batch_job_definition.this["hello"] will be updated in-place
  ~ resource "aws_batch_job_definition" "this" {
    }

  # module.job_queues["default"].aws_batch_job_queue.this must be replaced
-/+ resource "aws_batch_job_queue" "this" {
    }

  # module.job_queues["shared"].aws_batch_job_queue.this will be destroyed
  - resource "aws_batch_job_queue" "this" {
    }

Plan: 2 to add, 1 to change, 2 to destroy.
aws_iam_role.batch_service: Creating...
module.job_queues["default"].aws_batch_job_queue.this: Destroying... [id=arn:aws:batch:q]
aws_iam_role.batch_service: Creation complete after 1s [id=batch-service]
module.job_queues["default"].aws_batch_job_queue.this: Still destroying... [id=arn:aws:batch:q, 10s elapsed]
module.job_queues["default"].aws_batch_job_queue.this: Destruction complete after 31s
╷
│ Error: creating Batch Job Queue (batchform-local-default): ClientException: no
╵
Apply complete! Resources: 2 added, 1 changed, 2 destroyed.
"""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_a_resources_module_is_its_top_level_module_or_the_root() -> None:
    assert module_of('module.job_queues["default"].aws_batch_job_queue.this') == "job_queues"
    assert module_of("module.ecr.module.inner.aws_ecr_repository.this") == "ecr"
    assert module_of("aws_iam_role.batch_service") == "(root)"


def test_the_plans_changes_are_told_by_module_with_each_resource_and_its_action() -> None:
    report = TerraformReport(clock=Clock())
    for line in APPLY.splitlines():
        report.feed(line)
    assert report.summary == "Apply complete! Resources: 2 added, 1 changed, 2 destroyed."
    assert report.by_module() == [
        "  (root): 1 to create",
        "    + aws_iam_role.batch_service",
        "  job_definitions: 1 to update",
        '    ~ module.job_definitions.aws_batch_job_definition.this["hello"]',
        "  job_queues: 1 to replace, 1 to destroy",
        '    -/+ module.job_queues["default"].aws_batch_job_queue.this',
        '    - module.job_queues["shared"].aws_batch_job_queue.this',
    ]
    assert report.errors == ["creating Batch Job Queue (batchform-local-default): ClientException: no"]


def test_an_apply_tells_the_resource_it_has_worked_on_longest_and_how_far_it_is() -> None:
    shown: list[str] = []
    report = TerraformReport(progress=shown.append, clock=Clock())
    for line in APPLY.splitlines():
        report.feed(line)
    queue = 'module.job_queues["default"].aws_batch_job_queue.this'
    assert shown == [  # the clock ticks a second each time it is read
        "0/4 resources done; creating aws_iam_role.batch_service, 1 s",
        "0/4 resources done; creating aws_iam_role.batch_service, 3 s (+1 more)",
        f"1/4 resources done; destroying {queue}, 2 s",
        f"1/4 resources done; destroying {queue}, 3 s",
        "2/4 resources done",
    ]


def test_a_module_with_many_changes_lists_five_and_counts_the_rest() -> None:
    report = TerraformReport()
    for n in range(8):
        report.feed(f'  # module.logs.aws_cloudwatch_log_group.this["job{n}"] will be created')
    lines = report.by_module()
    assert lines[0] == "  logs: 8 to create" and lines[-1] == "    ... and 3 more" and len(lines) == 7


def test_the_summary_of_a_run_gives_its_duration() -> None:
    report = TerraformReport(clock=Clock())
    report.feed("Apply complete! Resources: 0 added, 0 changed, 0 destroyed.")
    assert report.lines("apply") == ["Apply complete! Resources: 0 added, 0 changed, 0 destroyed. (1 s)"]
    assert TerraformReport().lines("plan") == ["no plan summary"]


def test_an_applys_summary_counts_by_module_without_listing_what_the_plan_listed() -> None:
    report = TerraformReport(clock=Clock())
    for line in APPLY.splitlines():
        report.feed(line)
    assert report.lines("apply")[1:] == [
        "  (root): 1 to create",
        "  job_definitions: 1 to update",
        "  job_queues: 1 to replace, 1 to destroy",
    ]
