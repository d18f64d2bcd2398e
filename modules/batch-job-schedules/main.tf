locals {
  # What each run sends to Batch's SubmitJob, by the API's member names as EventBridge Scheduler's
  # universal target takes them (PascalCase): the job definition without its revision (the latest
  # ACTIVE one), its queue, a share where the queue needs one, the tags, propagated to the tasks.
  inputs = {
    for k, s in var.schedules : k => merge(
      {
        JobName       = coalesce(s.job_name, replace("${k}-scheduled", "/^[^A-Za-z0-9]+/", ""))
        JobQueue      = s.job_queue_arn
        JobDefinition = s.job_definition_arn
        PropagateTags = true
      },
      s.share_identifier == null ? {} : { ShareIdentifier = s.share_identifier },
      length(s.tags) == 0 ? {} : { Tags = s.tags },
    )
  }

  # arn:<partition>:batch:<region>:<account>, from each queue's ARN.
  batch_arn_bases = { for k, s in var.schedules : k => join(":", slice(split(":", s.job_queue_arn), 0, 5)) }
  partitions      = { for k, s in var.schedules : k => split(":", s.job_queue_arn)[1] }
  accounts        = { for k, s in var.schedules : k => split(":", s.job_queue_arn)[4] }

  # IAM name_prefix accepts at most 38 characters.
  role_prefixes = { for k, s in var.schedules : k => "${substr("${var.name_prefix}${k}", 0, 31)}-sched-" }

  role_policies = {
    for k, s in var.schedules : k => jsonencode({
      Version = "2012-10-17"
      Statement = concat(
        [
          # SubmitJob is authorized on the definition's revision ARN (name:revision) and, asked
          # by name without one, on the name: both, for this definition only, and on the queue.
          {
            Sid      = "SubmitTheJob"
            Effect   = "Allow"
            Action   = ["batch:SubmitJob"]
            Resource = [s.job_definition_arn, "${s.job_definition_arn}:*", s.job_queue_arn]
          },
        ],
        # A SubmitJob with tags also needs batch:TagResource on the job it creates, whose ARN
        # is not known before: any job of the account and region, with exactly these tag keys.
        length(s.tags) == 0 ? [] : [
          {
            Sid       = "TagTheJob"
            Effect    = "Allow"
            Action    = ["batch:TagResource"]
            Resource  = ["${local.batch_arn_bases[k]}:job/*"]
            Condition = { "ForAllValues:StringEquals" = { "aws:TagKeys" = sort(keys(s.tags)) } }
          },
        ],
        [
          {
            Sid      = "DeadLetter"
            Effect   = "Allow"
            Action   = ["sqs:SendMessage"]
            Resource = [aws_sqs_queue.dead_letter[0].arn]
          },
        ],
      )
    })
  }
}

################################################################################
# Dead-letter queue: the events of runs that could not be submitted, after the retries
################################################################################

resource "aws_sqs_queue" "dead_letter" {
  count = length(var.schedules) == 0 ? 0 : 1

  name                      = "${var.name_prefix}schedules-dead-letter"
  message_retention_seconds = var.dead_letter_retention_seconds
  # SSE-SQS: encrypted at rest, with no key policy for the scheduler's roles to need.
  sqs_managed_sse_enabled = true

  tags = var.tags
}

################################################################################
# One role per schedule: submit exactly its job definition to exactly its queue
################################################################################

resource "aws_iam_role" "this" {
  for_each = var.schedules

  name_prefix = local.role_prefixes[each.key]
  description = "EventBridge Scheduler submits ${each.value.job_definition_arn} to ${each.value.job_queue_arn}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "SchedulerAssumesRole"
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "scheduler.amazonaws.com" }
      # Only schedules of this account (the confused-deputy guard).
      Condition = { StringEquals = { "aws:SourceAccount" = local.accounts[each.key] } }
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  for_each = var.schedules

  name   = "submit-job"
  role   = aws_iam_role.this[each.key].id
  policy = local.role_policies[each.key]
}

################################################################################
# Schedules
################################################################################

resource "aws_scheduler_schedule" "this" {
  #checkov:skip=CKV_AWS_297:The input holds only the job's queue, definition and batchform's tags, nothing secret; an AWS-owned key encrypts it at rest.
  for_each = var.schedules

  name        = "${var.name_prefix}${each.key}"
  group_name  = "default"
  description = "Submits ${split("/", each.value.job_definition_arn)[1]} to ${split("/", each.value.job_queue_arn)[1]}"

  schedule_expression          = each.value.expression
  schedule_expression_timezone = each.value.timezone
  state                        = each.value.enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = "arn:${local.partitions[each.key]}:scheduler:::aws-sdk:batch:submitJob"
    role_arn = aws_iam_role.this[each.key].arn
    input    = jsonencode(local.inputs[each.key])

    dead_letter_config {
      arn = aws_sqs_queue.dead_letter[0].arn
    }

    retry_policy {
      maximum_retry_attempts       = var.retry_policy.maximum_retry_attempts
      maximum_event_age_in_seconds = var.retry_policy.maximum_event_age_in_seconds
    }
  }

  # A run before the role may submit would fail.
  depends_on = [aws_iam_role_policy.this]

  lifecycle {
    precondition {
      condition     = length("${var.name_prefix}${each.key}") <= 64
      error_message = "name_prefix plus the schedule key must not exceed 64 characters (EventBridge Scheduler's limit on a schedule's name)."
    }

    precondition {
      condition     = length(local.inputs[each.key].JobName) >= 1 && length(local.inputs[each.key].JobName) <= 128
      error_message = "The schedule's job name (default `<key>-scheduled`) must be 1-128 characters: give job_name."
    }
  }
}
