# Plan-level tests of the batch-job-notifications module with a mocked AWS provider.

mock_provider "aws" {
  mock_resource "aws_kms_key" {
    defaults = {
      arn    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
      key_id = "11111111-2222-3333-4444-555555555555"
    }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:batchform-dev-job-events" }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-1:123456789012:rule/batchform-dev-job-events" }
  }
}

variables {
  name         = "batchform-dev-job-events"
  account_name = "dev"
  job_queue_arns = [
    "arn:aws:batch:eu-west-1:123456789012:job-queue/batchform-dev-shared",
    "arn:aws:batch:eu-west-1:123456789012:job-queue/batchform-dev-default",
  ]
  subscribers = {
    email = ["batch-team@example.com"]
    https = ["https://hooks.example.com/batch"]
    sqs   = ["arn:aws:sqs:eu-west-1:123456789012:batch-events"]
  }
}

run "failed_jobs_of_the_queues_go_to_the_topic_as_a_message" {
  command = apply

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.this.event_pattern) == {
      source        = ["aws.batch"]
      "detail-type" = ["Batch Job State Change"]
      detail = {
        jobQueue = ["arn:aws:batch:eu-west-1:123456789012:job-queue/batchform-dev-default", "arn:aws:batch:eu-west-1:123456789012:job-queue/batchform-dev-shared"]
        status   = ["FAILED"]
      }
    }
    error_message = "The rule must match the state changes of exactly these queues' jobs to FAILED."
  }

  assert {
    condition     = aws_cloudwatch_event_target.this.arn == aws_sns_topic.this.arn && aws_cloudwatch_event_target.this.rule == "batchform-dev-job-events"
    error_message = "The rule's target must be the topic."
  }

  assert {
    condition = aws_cloudwatch_event_target.this.input_transformer[0].input_paths == tomap({
      job         = "$.detail.jobName"
      id          = "$.detail.jobId"
      status      = "$.detail.status"
      reason      = "$.detail.statusReason"
      exit_code   = "$.detail.container.exitCode"
      aws_account = "$.account"
      queue       = "$.detail.jobQueue"
      time        = "$.time"
    })
    error_message = "The message must take the job's name, id, status, reason and exit code, the account and the queue from the event."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_target.this.input_transformer[0].input_template) == "batchform job <job> (<id>) <status> at <time>\nAccount: dev (AWS account <aws_account>)\nQueue: <queue>\nExit code: <exit_code>\nReason: <reason>\nLogs: invoke jobs.logs <id> --account dev"
    error_message = "The message must be one JSON string naming the job, both account names, the exit code, the reason and the jobs.logs command."
  }
}

run "the_topic_is_encrypted_with_a_key_eventbridge_may_use_and_only_the_rule_may_publish" {
  command = apply

  assert {
    condition     = aws_sns_topic.this.kms_master_key_id == "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555" && aws_kms_key.this[0].enable_key_rotation
    error_message = "Without kms_key_arn the topic must be encrypted with a key the module makes, rotated."
  }

  assert {
    condition     = aws_kms_alias.this[0].name == "alias/batchform-dev-job-events"
    error_message = "The module's key must be findable by its alias."
  }

  assert {
    condition = [for s in jsondecode(aws_kms_key.this[0].policy).Statement : s if s.Sid == "EventBridgePublishesToTheTopic"] == [{
      Sid       = "EventBridgePublishesToTheTopic"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource  = "*"
    }]
    error_message = "EventBridge must be allowed to use the key, or it cannot publish to the encrypted topic."
  }

  assert {
    condition     = [for s in jsondecode(aws_kms_key.this[0].policy).Statement : s.Principal.AWS if s.Sid == "AccountAdministersTheKey"] == ["arn:aws:iam::123456789012:root"]
    error_message = "The account (its IAM policies) must administer the key, or nobody could."
  }

  assert {
    condition = jsondecode(aws_sns_topic_policy.this.policy).Statement == [{
      Sid       = "EventBridgeRulePublishes"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = ["sns:Publish"]
      Resource  = ["arn:aws:sns:eu-west-1:123456789012:batchform-dev-job-events"]
      Condition = { ArnEquals = { "aws:SourceArn" = "arn:aws:events:eu-west-1:123456789012:rule/batchform-dev-job-events" } }
    }]
    error_message = "events.amazonaws.com may publish to the topic from the rule only."
  }
}

run "each_subscriber_is_subscribed_with_its_protocol" {
  command = plan

  assert {
    condition = { for k, s in aws_sns_topic_subscription.this : k => [s.protocol, s.endpoint] } == {
      "email:batch-team@example.com"                        = ["email", "batch-team@example.com"]
      "https:https://hooks.example.com/batch"               = ["https", "https://hooks.example.com/batch"]
      "sqs:arn:aws:sqs:eu-west-1:123456789012:batch-events" = ["sqs", "arn:aws:sqs:eu-west-1:123456789012:batch-events"]
    }
    error_message = "Each declared endpoint must be subscribed with its protocol."
  }
}

run "a_declared_key_is_used_and_none_is_made_and_succeeded_jobs_are_told_too" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/99999999-8888-7777-6666-555555555555"
    statuses    = ["FAILED", "SUCCEEDED"]
    subscribers = {}
  }

  assert {
    condition     = length(aws_kms_key.this) == 0 && length(aws_kms_alias.this) == 0 && aws_sns_topic.this.kms_master_key_id == var.kms_key_arn
    error_message = "A declared key must encrypt the topic, and no other be made."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this.event_pattern).detail.status == ["FAILED", "SUCCEEDED"] && length(aws_sns_topic_subscription.this) == 0
    error_message = "statuses must reach the rule; no subscribers, no subscriptions."
  }
}

# ---------------------------------------------------------------- bad inputs

run "rejects_the_aws_managed_sns_key" {
  command = plan

  variables {
    kms_key_arn = "alias/aws/sns"
  }

  expect_failures = [var.kms_key_arn]
}

run "rejects_a_status_batch_never_gives" {
  command = plan

  variables {
    statuses = ["FAILED", "CANCELLED"]
  }

  expect_failures = [var.statuses]
}

run "rejects_no_status" {
  command = plan

  variables {
    statuses = []
  }

  expect_failures = [var.statuses]
}

run "rejects_no_queue" {
  command = plan

  variables {
    job_queue_arns = []
  }

  expect_failures = [var.job_queue_arns]
}

run "rejects_queues_of_two_accounts" {
  command = plan

  variables {
    job_queue_arns = ["arn:aws:batch:eu-west-1:123456789012:job-queue/a", "arn:aws:batch:eu-west-1:210987654321:job-queue/b"]
  }

  expect_failures = [var.job_queue_arns]
}

run "rejects_an_email_that_is_no_address" {
  command = plan

  variables {
    subscribers = { email = ["batch-team"] }
  }

  expect_failures = [var.subscribers]
}

run "rejects_plain_http" {
  command = plan

  variables {
    subscribers = { https = ["http://hooks.example.com/batch"] }
  }

  expect_failures = [var.subscribers]
}

run "rejects_a_fifo_queue" {
  command = plan

  variables {
    subscribers = { sqs = ["arn:aws:sqs:eu-west-1:123456789012:batch-events.fifo"] }
  }

  expect_failures = [var.subscribers]
}

run "rejects_an_endpoint_twice" {
  command = plan

  variables {
    subscribers = { email = ["a@example.com", "a@example.com"] }
  }

  expect_failures = [var.subscribers]
}

run "rejects_a_name_eventbridge_cannot_take" {
  command = plan

  variables {
    name = "batchform dev"
  }

  expect_failures = [var.name]
}
