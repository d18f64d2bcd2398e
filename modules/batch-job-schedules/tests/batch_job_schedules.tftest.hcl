# Plan-level tests of the batch-job-schedules module with a mocked AWS provider.

mock_provider "aws" {
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:batchform-dev-schedules-dead-letter"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/batchform-dev-schedules-dead-letter"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/batchform-dev-report-sched-1" }
  }
}

variables {
  name_prefix = "batchform-dev-"
  schedules = {
    report = {
      expression         = "cron(0 3 * * ? *)"
      timezone           = "Europe/Paris"
      job_queue_arn      = "arn:aws:batch:eu-west-1:123456789012:job-queue/batchform-dev-default"
      job_definition_arn = "arn:aws:batch:eu-west-1:123456789012:job-definition/batchform-dev-report"
      tags               = { "batchform:schedule" = "batchform-dev-report", "batchform:token" = "0123456789abcdef0123456789abcdef" }
    }
  }
}

run "a_schedule_submits_its_job_definition_to_its_queue_with_its_tags" {
  command = apply

  assert {
    condition = jsondecode(aws_scheduler_schedule.this["report"].target[0].input) == {
      JobName       = "report-scheduled"
      JobQueue      = "arn:aws:batch:eu-west-1:123456789012:job-queue/batchform-dev-default"
      JobDefinition = "arn:aws:batch:eu-west-1:123456789012:job-definition/batchform-dev-report"
      PropagateTags = true
      Tags          = { "batchform:schedule" = "batchform-dev-report", "batchform:token" = "0123456789abcdef0123456789abcdef" }
    }
    error_message = "The input must be SubmitJob's parameters: name, queue, definition without revision, tags propagated."
  }

  assert {
    condition = (
      aws_scheduler_schedule.this["report"].name == "batchform-dev-report" &&
      aws_scheduler_schedule.this["report"].target[0].arn == "arn:aws:scheduler:::aws-sdk:batch:submitJob" &&
      aws_scheduler_schedule.this["report"].schedule_expression == "cron(0 3 * * ? *)" &&
      aws_scheduler_schedule.this["report"].schedule_expression_timezone == "Europe/Paris" &&
      aws_scheduler_schedule.this["report"].state == "ENABLED" &&
      aws_scheduler_schedule.this["report"].flexible_time_window[0].mode == "OFF"
    )
    error_message = "The schedule must run Batch's SubmitJob universal target at its expression, in its time zone."
  }

  assert {
    condition = (
      aws_scheduler_schedule.this["report"].target[0].dead_letter_config[0].arn == output.dead_letter_queue_arn &&
      aws_scheduler_schedule.this["report"].target[0].retry_policy[0].maximum_retry_attempts == 3 &&
      aws_scheduler_schedule.this["report"].target[0].retry_policy[0].maximum_event_age_in_seconds == 3600
    )
    error_message = "Failed runs must be retried 3 times within an hour, then go to the dead-letter queue."
  }

  assert {
    condition     = aws_sqs_queue.dead_letter[0].name == "batchform-dev-schedules-dead-letter" && aws_sqs_queue.dead_letter[0].sqs_managed_sse_enabled && aws_sqs_queue.dead_letter[0].message_retention_seconds == 1209600
    error_message = "The dead-letter queue must be encrypted (SSE-SQS) and keep events 14 days."
  }
}

run "the_role_may_submit_exactly_that_definition_to_that_queue_and_tag_with_its_keys" {
  command = apply

  assert {
    condition = jsondecode(output.role_policies["report"]).Statement == [
      {
        Sid      = "SubmitTheJob"
        Effect   = "Allow"
        Action   = ["batch:SubmitJob"]
        Resource = ["arn:aws:batch:eu-west-1:123456789012:job-definition/batchform-dev-report", "arn:aws:batch:eu-west-1:123456789012:job-definition/batchform-dev-report:*", "arn:aws:batch:eu-west-1:123456789012:job-queue/batchform-dev-default"]
      },
      {
        Sid       = "TagTheJob"
        Effect    = "Allow"
        Action    = ["batch:TagResource"]
        Resource  = ["arn:aws:batch:eu-west-1:123456789012:job/*"]
        Condition = { "ForAllValues:StringEquals" = { "aws:TagKeys" = ["batchform:schedule", "batchform:token"] } }
      },
      {
        Sid      = "DeadLetter"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = ["arn:aws:sqs:eu-west-1:123456789012:batchform-dev-schedules-dead-letter"]
      },
    ]
    error_message = "The role must submit exactly its definition (any revision) to its queue, tag with its keys only, and dead-letter."
  }

  assert {
    condition = jsondecode(aws_iam_role.this["report"].assume_role_policy).Statement == [{
      Sid       = "SchedulerAssumesRole"
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "scheduler.amazonaws.com" }
      Condition = { StringEquals = { "aws:SourceAccount" = "123456789012" } }
    }]
    error_message = "Only EventBridge Scheduler, for schedules of this account, may assume the role."
  }

  assert {
    condition     = startswith(aws_iam_role.this["report"].name_prefix, "batchform-dev-report-sched-") && length(aws_iam_role.this["report"].name_prefix) <= 38
    error_message = "The role's name prefix must start with the schedule's name and fit IAM's 38 characters."
  }
}

run "a_share_a_job_name_a_paused_schedule_and_no_tags" {
  command = apply

  variables {
    schedules = {
      "_nightly" = {
        expression         = "rate(1 day)"
        enabled            = false
        job_queue_arn      = "arn:aws:batch:eu-west-1:123456789012:job-queue/batchform-dev-shared"
        job_definition_arn = "arn:aws:batch:eu-west-1:123456789012:job-definition/batchform-dev-report"
        share_identifier   = "nightly"
      }
      named = {
        expression         = "at(2030-01-31T03:00:00)"
        job_queue_arn      = "arn:aws-cn:batch:cn-north-1:123456789012:job-queue/q"
        job_definition_arn = "arn:aws-cn:batch:cn-north-1:123456789012:job-definition/d"
        job_name           = "one-off"
      }
    }
  }

  assert {
    condition = output.inputs["_nightly"] == {
      JobName         = "nightly-scheduled"
      JobQueue        = "arn:aws:batch:eu-west-1:123456789012:job-queue/batchform-dev-shared"
      JobDefinition   = "arn:aws:batch:eu-west-1:123456789012:job-definition/batchform-dev-report"
      ShareIdentifier = "nightly"
      PropagateTags   = true
    }
    error_message = "A fair-share queue's schedule must send its share; a job name starts with a letter or digit."
  }

  assert {
    condition     = aws_scheduler_schedule.this["_nightly"].state == "DISABLED" && aws_scheduler_schedule.this["_nightly"].schedule_expression_timezone == "UTC"
    error_message = "enabled = false must pause the schedule; the time zone defaults to UTC."
  }

  assert {
    condition     = [for s in jsondecode(output.role_policies["_nightly"]).Statement : s.Sid] == ["SubmitTheJob", "DeadLetter"]
    error_message = "Without tags the role gets no batch:TagResource."
  }

  assert {
    condition     = output.inputs["named"].JobName == "one-off" && aws_scheduler_schedule.this["named"].target[0].arn == "arn:aws-cn:scheduler:::aws-sdk:batch:submitJob"
    error_message = "job_name must name the jobs, and the target must be in the queue's partition."
  }
}

run "no_schedules_make_no_dead_letter_queue" {
  command = plan

  variables {
    schedules = {}
  }

  assert {
    condition     = length(aws_sqs_queue.dead_letter) == 0
    error_message = "Without schedules there is nothing to dead-letter."
  }
}

# ---------------------------------------------------------------- bad inputs

run "rejects_a_cron_with_five_fields" {
  command = plan

  variables {
    schedules = { report = { expression = "cron(0 3 * * ?)", job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = var.schedules.report.job_definition_arn } }
  }

  expect_failures = [var.schedules]
}

run "rejects_a_cron_giving_both_days" {
  command = plan

  variables {
    schedules = { report = { expression = "cron(0 3 * * * *)", job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = var.schedules.report.job_definition_arn } }
  }

  expect_failures = [var.schedules]
}

run "rejects_a_cron_giving_neither_day" {
  command = plan

  variables {
    schedules = { report = { expression = "cron(0 3 ? * ? *)", job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = var.schedules.report.job_definition_arn } }
  }

  expect_failures = [var.schedules]
}

run "rejects_a_plural_unit_for_one" {
  command = plan

  variables {
    schedules = { report = { expression = "rate(1 hours)", job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = var.schedules.report.job_definition_arn } }
  }

  expect_failures = [var.schedules]
}

run "rejects_a_singular_unit_for_more_than_one" {
  command = plan

  variables {
    schedules = { report = { expression = "rate(5 minute)", job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = var.schedules.report.job_definition_arn } }
  }

  expect_failures = [var.schedules]
}

run "rejects_a_rate_of_zero" {
  command = plan

  variables {
    schedules = { report = { expression = "rate(0 days)", job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = var.schedules.report.job_definition_arn } }
  }

  expect_failures = [var.schedules]
}

run "rejects_a_time_zone_that_is_no_name" {
  command = plan

  variables {
    schedules = { report = { expression = "rate(1 day)", timezone = "UTC+2 hours", job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = var.schedules.report.job_definition_arn } }
  }

  expect_failures = [var.schedules]
}

run "rejects_a_job_definition_with_its_revision" {
  command = plan

  variables {
    schedules = { report = { expression = "rate(1 day)", job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = "${var.schedules.report.job_definition_arn}:3" } }
  }

  expect_failures = [var.schedules]
}

run "rejects_a_queue_that_is_no_queue_arn" {
  command = plan

  variables {
    schedules = { report = { expression = "rate(1 day)", job_queue_arn = "batchform-dev-default", job_definition_arn = var.schedules.report.job_definition_arn } }
  }

  expect_failures = [var.schedules]
}

run "rejects_a_definition_of_another_account" {
  command = plan

  variables {
    schedules = { report = { expression = "rate(1 day)", job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = "arn:aws:batch:eu-west-1:210987654321:job-definition/batchform-dev-report" } }
  }

  expect_failures = [var.schedules]
}

run "rejects_a_job_name_starting_with_a_hyphen" {
  command = plan

  variables {
    schedules = { report = { expression = "rate(1 day)", job_name = "-report", job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = var.schedules.report.job_definition_arn } }
  }

  expect_failures = [var.schedules]
}

run "rejects_a_share_identifier_with_a_hyphen" {
  command = plan

  variables {
    schedules = { report = { expression = "rate(1 day)", share_identifier = "night-ly", job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = var.schedules.report.job_definition_arn } }
  }

  expect_failures = [var.schedules]
}

run "rejects_a_reserved_tag_key" {
  command = plan

  variables {
    schedules = { report = { expression = "rate(1 day)", tags = { "aws:owner" = "x" }, job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = var.schedules.report.job_definition_arn } }
  }

  expect_failures = [var.schedules]
}

run "rejects_a_schedule_key_with_a_space" {
  command = plan

  variables {
    schedules = { "nightly report" = { expression = "rate(1 day)", job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = var.schedules.report.job_definition_arn } }
  }

  expect_failures = [var.schedules]
}

run "rejects_more_than_185_retries" {
  command = plan

  variables {
    retry_policy = { maximum_retry_attempts = 186 }
  }

  expect_failures = [var.retry_policy]
}

run "rejects_an_event_age_over_a_day" {
  command = plan

  variables {
    retry_policy = { maximum_event_age_in_seconds = 86401 }
  }

  expect_failures = [var.retry_policy]
}

run "rejects_a_retention_over_fourteen_days" {
  command = plan

  variables {
    dead_letter_retention_seconds = 1209601
  }

  expect_failures = [var.dead_letter_retention_seconds]
}

run "rejects_a_name_prefix_sqs_cannot_take" {
  command = plan

  variables {
    name_prefix = "batchform dev"
  }

  expect_failures = [var.name_prefix]
}

run "rejects_a_schedule_name_over_64_characters" {
  command = plan

  variables {
    name_prefix = "batchform-an-account-with-a-long-name-"
    schedules   = { "a-job-with-a-longer-name-too" = { expression = "rate(1 day)", job_queue_arn = var.schedules.report.job_queue_arn, job_definition_arn = var.schedules.report.job_definition_arn } }
  }

  expect_failures = [aws_scheduler_schedule.this["a-job-with-a-longer-name-too"]]
}
