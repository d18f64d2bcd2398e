# Plan-level tests of the batch-job-queue module with a mocked AWS provider.

mock_provider "aws" {}

variables {
  name = "batchform-default"
  compute_environment_arns = [
    "arn:aws:batch:eu-west-1:123456789012:compute-environment/batchform-spot-20240101",
    "arn:aws:batch:eu-west-1:123456789012:compute-environment/batchform-ondemand-20240101",
  ]
}

run "fifo_queue_orders_compute_environments_as_given" {
  command = plan

  assert {
    condition     = aws_batch_job_queue.this.name == "batchform-default" && aws_batch_job_queue.this.priority == 1 && aws_batch_job_queue.this.state == "ENABLED"
    error_message = "Name, default priority 1 and state ENABLED expected."
  }

  assert {
    condition = [for o in aws_batch_job_queue.this.compute_environment_order : { order = o.order, ce = o.compute_environment }] == [
      { order = 1, ce = var.compute_environment_arns[0] },
      { order = 2, ce = var.compute_environment_arns[1] },
    ]
    error_message = "compute_environment_order must follow the list order."
  }

  assert {
    condition     = length(aws_batch_scheduling_policy.this) == 0 && aws_batch_job_queue.this.scheduling_policy_arn == null
    error_message = "No scheduling policy without fair_share_policy."
  }
}

run "fifo_queue_outputs_null_scheduling_policy" {
  command = apply

  override_resource {
    target = aws_batch_job_queue.this
    values = {
      arn = "arn:aws:batch:eu-west-1:123456789012:job-queue/batchform-default"
    }
  }

  assert {
    condition     = output.arn == "arn:aws:batch:eu-west-1:123456789012:job-queue/batchform-default" && output.name == "batchform-default"
    error_message = "arn and name outputs are wrong."
  }

  assert {
    condition     = output.scheduling_policy_arn == null
    error_message = "scheduling_policy_arn must be null without a policy."
  }
}

run "fair_share_policy_creates_and_attaches_a_scheduling_policy" {
  command = apply

  variables {
    priority = 1000
    state    = "DISABLED"
    fair_share_policy = {
      compute_reservation = 10
      share_decay_seconds = 3600
      share_distribution = [
        { share_identifier = "nightly", weight_factor = 2 },
        { share_identifier = "adhoc*" },
      ]
    }
    tags = { Project = "batchform" }
  }

  override_resource {
    target = aws_batch_scheduling_policy.this
    values = {
      arn = "arn:aws:batch:eu-west-1:123456789012:scheduling-policy/batchform-default"
    }
  }

  assert {
    condition     = aws_batch_job_queue.this.scheduling_policy_arn == "arn:aws:batch:eu-west-1:123456789012:scheduling-policy/batchform-default"
    error_message = "The queue must use the scheduling policy."
  }

  assert {
    condition     = output.scheduling_policy_arn == "arn:aws:batch:eu-west-1:123456789012:scheduling-policy/batchform-default"
    error_message = "scheduling_policy_arn output is wrong."
  }

  assert {
    condition = (
      aws_batch_scheduling_policy.this[0].fair_share_policy[0].compute_reservation == 10 &&
      aws_batch_scheduling_policy.this[0].fair_share_policy[0].share_decay_seconds == 3600 &&
      toset([for s in aws_batch_scheduling_policy.this[0].fair_share_policy[0].share_distribution : "${s.share_identifier}=${s.weight_factor}"]) == toset(["nightly=2", "adhoc*=1"])
    )
    error_message = "The fair-share policy must carry the inputs (weight_factor defaults to 1)."
  }

  assert {
    condition     = aws_batch_job_queue.this.tags == tomap({ Project = "batchform" }) && aws_batch_scheduling_policy.this[0].tags == tomap({ Project = "batchform" })
    error_message = "Tags must be applied to the queue and the policy."
  }

  assert {
    condition     = aws_batch_job_queue.this.priority == 1000 && aws_batch_job_queue.this.state == "DISABLED"
    error_message = "priority and state must follow the inputs."
  }
}

# ---------------------------------------------------------------- bad inputs

run "rejects_no_compute_environment" {
  command = plan

  variables {
    compute_environment_arns = []
  }

  expect_failures = [var.compute_environment_arns]
}

run "rejects_more_than_three_compute_environments" {
  command = plan

  variables {
    compute_environment_arns = [for i in range(4) : "arn:aws:batch:eu-west-1:123456789012:compute-environment/ce-${i}"]
  }

  expect_failures = [var.compute_environment_arns]
}

run "rejects_something_that_is_not_a_compute_environment_arn" {
  command = plan

  variables {
    compute_environment_arns = ["arn:aws:batch:eu-west-1:123456789012:job-queue/not-a-ce"]
  }

  expect_failures = [var.compute_environment_arns]
}

run "rejects_duplicate_compute_environments" {
  command = plan

  variables {
    compute_environment_arns = [
      "arn:aws:batch:eu-west-1:123456789012:compute-environment/ce",
      "arn:aws:batch:eu-west-1:123456789012:compute-environment/ce",
    ]
  }

  expect_failures = [var.compute_environment_arns]
}

run "rejects_negative_priority" {
  command = plan

  variables {
    priority = -1
  }

  expect_failures = [var.priority]
}

run "rejects_priority_above_1000" {
  command = plan

  variables {
    priority = 1001
  }

  expect_failures = [var.priority]
}

run "rejects_fractional_priority" {
  command = plan

  variables {
    priority = 1.5
  }

  expect_failures = [var.priority]
}

run "rejects_unknown_state" {
  command = plan

  variables {
    state = "ON"
  }

  expect_failures = [var.state]
}

run "rejects_name_with_spaces" {
  command = plan

  variables {
    name = "my queue"
  }

  expect_failures = [var.name]
}

run "rejects_compute_reservation_of_100" {
  command = plan

  variables {
    fair_share_policy = { compute_reservation = 100 }
  }

  expect_failures = [var.fair_share_policy]
}

run "rejects_share_decay_longer_than_a_week" {
  command = plan

  variables {
    fair_share_policy = { share_decay_seconds = 604801 }
  }

  expect_failures = [var.fair_share_policy]
}

run "rejects_zero_weight_factor" {
  command = plan

  variables {
    fair_share_policy = { share_distribution = [{ share_identifier = "a", weight_factor = 0 }] }
  }

  expect_failures = [var.fair_share_policy]
}

run "rejects_invalid_share_identifier" {
  command = plan

  variables {
    fair_share_policy = { share_distribution = [{ share_identifier = "team a" }] }
  }

  expect_failures = [var.fair_share_policy]
}

# Share identifiers are "limited to 255 alphanumeric characters, and can be followed by an asterisk".
run "rejects_a_share_identifier_with_a_hyphen" {
  command = plan

  variables {
    fair_share_policy = { share_distribution = [{ share_identifier = "team-a" }] }
  }

  expect_failures = [var.fair_share_policy]
}

run "job_state_time_limit_actions_cancel_jobs_stuck_for_a_named_reason" {
  command = plan

  variables {
    job_state_time_limit_actions = [
      { reason = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", max_time_seconds = 600 },
      { reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", max_time_seconds = 14400 },
    ]
  }

  assert {
    condition = [for a in aws_batch_job_queue.this.job_state_time_limit_action : [a.reason, a.max_time_seconds, a.action, a.state]] == [
      ["MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", 600, "CANCEL", "RUNNABLE"],
      ["CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", 14400, "CANCEL", "RUNNABLE"],
    ]
    error_message = "Each time limit must reach the queue, cancelling RUNNABLE jobs by default."
  }
}

run "rejects_a_time_limit_under_ten_minutes" {
  command = plan

  variables {
    job_state_time_limit_actions = [{ reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", max_time_seconds = 599 }]
  }

  expect_failures = [var.job_state_time_limit_actions]
}

run "rejects_a_time_limit_over_a_day" {
  command = plan

  variables {
    job_state_time_limit_actions = [{ reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", max_time_seconds = 86401 }]
  }

  expect_failures = [var.job_state_time_limit_actions]
}

run "rejects_a_reason_batch_cannot_act_on" {
  command = plan

  variables {
    job_state_time_limit_actions = [{ reason = "MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS", max_time_seconds = 600 }]
  }

  expect_failures = [var.job_state_time_limit_actions]
}

run "rejects_an_action_other_than_cancel" {
  command = plan

  variables {
    job_state_time_limit_actions = [{ reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", max_time_seconds = 600, action = "TERMINATE" }]
  }

  expect_failures = [var.job_state_time_limit_actions]
}

run "rejects_one_reason_twice" {
  command = plan

  variables {
    job_state_time_limit_actions = [
      { reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", max_time_seconds = 600 },
      { reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", max_time_seconds = 900 },
    ]
  }

  expect_failures = [var.job_state_time_limit_actions]
}
