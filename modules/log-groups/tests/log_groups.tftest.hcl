# Plan-level tests of the log-groups module with a mocked AWS provider.

mock_provider "aws" {}

variables {
  names = ["/batchform/worker", "/aws/batch/custom"]
}

run "creates_one_group_per_name_with_default_retention" {
  command = plan

  assert {
    condition     = toset(keys(aws_cloudwatch_log_group.this)) == toset(["/batchform/worker", "/aws/batch/custom"])
    error_message = "One log group per name is expected."
  }

  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.this : g.retention_in_days == 30 && g.kms_key_id == null])
    error_message = "Default retention is 30 days without a KMS key."
  }
}

run "kms_key_retention_and_tags_apply_to_every_group" {
  command = plan

  variables {
    retention_in_days = 0
    kms_key_arn       = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    tags              = { Project = "batchform" }
  }

  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.this : g.retention_in_days == 0 && g.kms_key_id == var.kms_key_arn])
    error_message = "retention_in_days and kms_key_arn must apply to every group."
  }

  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.this : g.tags == tomap({ Project = "batchform" })])
    error_message = "Tags must apply to every group."
  }
}

run "outputs_map_names_to_names_and_arns" {
  command = apply

  override_resource {
    target = aws_cloudwatch_log_group.this["/batchform/worker"]
    values = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/batchform/worker"
    }
  }

  assert {
    condition     = alltrue([for k, v in output.names : k == v]) && toset(keys(output.names)) == toset(var.names)
    error_message = "names output must map each name to itself."
  }

  assert {
    condition     = output.arns["/batchform/worker"] == "arn:aws:logs:eu-west-1:123456789012:log-group:/batchform/worker"
    error_message = "arns output must map each name to its ARN."
  }
}

run "accepts_an_empty_set" {
  command = plan

  variables {
    names = []
  }

  assert {
    condition     = length(aws_cloudwatch_log_group.this) == 0
    error_message = "No names, no groups."
  }
}

# ---------------------------------------------------------------- bad inputs

run "rejects_retention_cloudwatch_does_not_offer" {
  command = plan

  variables {
    retention_in_days = 31
  }

  expect_failures = [var.retention_in_days]
}

run "rejects_negative_retention" {
  command = plan

  variables {
    retention_in_days = -1
  }

  expect_failures = [var.retention_in_days]
}

run "rejects_name_with_spaces" {
  command = plan

  variables {
    names = ["/batchform/my worker"]
  }

  expect_failures = [var.names]
}

run "rejects_reserved_aws_prefix" {
  command = plan

  variables {
    names = ["aws/batch/job"]
  }

  expect_failures = [var.names]
}

run "rejects_name_longer_than_512_characters" {
  command = plan

  variables {
    names = [join("", [for i in range(513) : "a"])]
  }

  expect_failures = [var.names]
}

run "rejects_empty_name" {
  command = plan

  variables {
    names = [""]
  }

  expect_failures = [var.names]
}

run "rejects_kms_alias" {
  command = plan

  variables {
    kms_key_arn = "alias/logs"
  }

  expect_failures = [var.kms_key_arn]
}
