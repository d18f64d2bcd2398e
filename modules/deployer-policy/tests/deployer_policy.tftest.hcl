# Tests of the deployer-policy module: the policy is plain data, so no provider is involved.

variables {
  account_name     = "dev"
  account_id       = "111111111111"
  region           = "eu-west-1"
  repository_names = ["hello", "fetch-and-run"]
}

run "the_service_linked_role_may_be_created_for_batch_only" {
  command = plan

  assert {
    condition = [for s in jsondecode(output.policy_json).Statement : s if contains(s.Action, "iam:CreateServiceLinkedRole")] == [{
      Sid       = "CreateBatchServiceLinkedRole"
      Effect    = "Allow"
      Action    = ["iam:CreateServiceLinkedRole"]
      Resource  = ["arn:aws:iam::111111111111:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"]
      Condition = { StringEquals = { "iam:AWSServiceName" = "batch.amazonaws.com" } }
    }]
    error_message = "iam:CreateServiceLinkedRole must be granted once, for AWSServiceRoleForBatch, conditioned on iam:AWSServiceName = batch.amazonaws.com."
  }
}

run "no_action_has_a_wildcard_and_roles_are_passed_only_to_the_services_that_use_them" {
  command = plan

  assert {
    condition     = alltrue([for a in output.actions : !strcontains(a, "*") && !strcontains(a, "?")])
    error_message = "No action may hold a wildcard."
  }

  assert {
    condition = [for s in jsondecode(output.policy_json).Statement : s.Condition if contains(s.Action, "iam:PassRole")] == [
      { StringEquals = { "iam:PassedToService" = ["batch.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com", "scheduler.amazonaws.com", "spotfleet.amazonaws.com"] } }
    ]
    error_message = "iam:PassRole must be conditioned on the services the roles are made for."
  }

  assert {
    condition     = alltrue([for s in jsondecode(output.policy_json).Statement : alltrue([for r in s.Resource : r == "*" || strcontains(r, ":111111111111:") || startswith(r, "arn:aws:s3:::")])])
    error_message = "Every resource must be in the account (or one of its buckets), or `*` for describe calls."
  }
}

run "what_terraform_and_batchform_call_is_allowed" {
  command = plan

  assert {
    condition = length(setsubtract([
      "batch:CreateComputeEnvironment", "batch:CreateJobQueue", "batch:CreateSchedulingPolicy", "batch:RegisterJobDefinition",
      "batch:SubmitJob", "batch:TerminateJob", "ecr:CreateRepository", "ecr:PutLifecyclePolicy", "ecr:PutImage",
      "ecr:GetAuthorizationToken", "iam:CreateRole", "iam:PutRolePolicy", "iam:PassRole", "ec2:CreateSecurityGroup",
      "ec2:DescribeSubnets", "logs:CreateLogGroup", "logs:GetLogEvents", "s3:PutBucketPolicy",
      "s3:PutLifecycleConfiguration", "s3:PutObject",
    ], output.actions)) == 0
    error_message = "The policy must allow what terraform and batchform call."
  }

  assert {
    condition     = !contains(output.actions, "kms:Decrypt")
    error_message = "Without KMS keys the policy grants no KMS action."
  }
}

run "the_account_tables_are_managed_by_name_prefix_with_what_the_provider_calls" {
  command = plan

  assert {
    condition = [for s in jsondecode(output.policy_json).Statement : s if s.Sid == "ManageTables"] == [{
      Sid    = "ManageTables"
      Effect = "Allow"
      Action = [
        "dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable",
        "dynamodb:DescribeTimeToLive", "dynamodb:ListTagsOfResource", "dynamodb:TagResource", "dynamodb:UntagResource",
        "dynamodb:UpdateContinuousBackups", "dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive",
      ]
      Resource = ["arn:aws:dynamodb:eu-west-1:111111111111:table/batchform-dev-*"]
    }]
    error_message = "ManageTables must allow the table actions terraform calls, on the account's batchform-dev-* tables only."
  }

  assert {
    condition     = alltrue([for s in jsondecode(output.policy_json).Statement : alltrue([for r in s.Resource : r == "arn:aws:dynamodb:eu-west-1:111111111111:table/batchform-dev-*"]) if anytrue([for a in s.Action : startswith(a, "dynamodb:")])])
    error_message = "No other resource may be granted a DynamoDB action."
  }
}

run "tables_follow_the_partition_and_region" {
  command = plan

  variables {
    partition = "aws-us-gov"
    region    = "us-gov-west-1"
  }

  assert {
    condition     = jsonencode([for s in jsondecode(output.policy_json).Statement : s.Resource if s.Sid == "ManageTables"]) == jsonencode([["arn:aws-us-gov:dynamodb:us-gov-west-1:111111111111:table/batchform-dev-*"]])
    error_message = "The tables' ARN must follow partition and region."
  }
}

run "kms_keys_are_usable_only_when_given" {
  command = plan

  variables {
    kms_key_arns = ["arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
  }

  assert {
    condition     = jsonencode([for s in jsondecode(output.policy_json).Statement : s.Resource if s.Sid == "UseAccountKeys"]) == jsonencode([var.kms_key_arns])
    error_message = "The KMS statement must name exactly the given keys."
  }
}

run "rejects_a_kms_alias" {
  command = plan

  variables {
    kms_key_arns = ["arn:aws:kms:eu-west-1:111111111111:alias/deploy"]
  }

  expect_failures = [var.kms_key_arns]
}

run "rejects_an_account_id_that_is_not_12_digits" {
  command = plan

  variables {
    account_id = "1111"
  }

  expect_failures = [var.account_id]
}

run "the_plan_only_policy_reads_what_the_deployer_may_and_writes_only_the_state_lock" {
  command = plan

  assert {
    condition     = length(setsubtract(output.plan_actions, output.actions)) == 0
    error_message = "The plan-only policy may allow only actions the deployer has."
  }

  assert {
    condition     = alltrue([for a in output.plan_actions : can(regex("^[a-z0-9]+:(Describe|Get|List)[A-Za-z]+$", a)) || contains(["s3:PutObject", "s3:DeleteObject"], a)])
    error_message = "The plan-only policy reads (Describe, Get, List); its one write is the state lock."
  }

  assert {
    condition = [for s in jsondecode(output.plan_policy_json).Statement : s.Resource if contains(s.Action, "s3:PutObject")] == [
      ["arn:aws:s3:::batchform-tfstate-111111111111-eu-west-1/batchform/*.tflock"]
    ]
    error_message = "The plan-only policy writes the state's lock files and nothing else."
  }

  assert {
    condition     = length(setintersection(output.plan_actions, ["logs:GetLogEvents", "logs:FilterLogEvents", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:GetAuthorizationToken", "batch:DescribeJobs", "batch:ListJobs", "batch:SubmitJob", "iam:PassRole"])) == 0
    error_message = "The plan-only policy reads no job data (logs, jobs) and no image, and submits nothing."
  }

  assert {
    condition     = alltrue([for s in jsondecode(output.plan_policy_json).Statement : alltrue([for r in s.Resource : r == "*" || strcontains(r, ":111111111111:") || startswith(r, "arn:aws:s3:::")])])
    error_message = "Every resource of the plan-only policy must be in the account (or one of its buckets), or `*` for describe calls."
  }

  assert {
    condition     = length(output.policy_json) <= 10240 && length(output.plan_policy_json) <= 10240
    error_message = "Each policy must fit in a role's inline policies (10,240 characters)."
  }
}

run "the_plan_only_policy_may_decrypt_with_the_account_keys_only_when_given" {
  command = plan

  variables {
    kms_key_arns = ["arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
  }

  assert {
    condition     = [for s in jsondecode(output.plan_policy_json).Statement : s.Action if s.Sid == "UseAccountKeysForPlan"] == [["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]]
    error_message = "With keys, the plan-only policy may decrypt state and resources (and encrypt the lock file)."
  }
}

run "schedules_and_notifications_are_managed_by_name_and_their_key_by_the_accounts_tag" {
  command = plan

  assert {
    condition = length(setsubtract([
      "scheduler:CreateSchedule", "scheduler:DeleteSchedule", "sqs:CreateQueue", "events:PutRule", "events:PutTargets",
      "sns:CreateTopic", "sns:SetTopicAttributes", "sns:Subscribe", "kms:CreateKey", "kms:PutKeyPolicy",
    ], output.actions)) == 0
    error_message = "The policy must allow what terraform calls for schedules and notifications."
  }

  assert {
    condition = { for s in jsondecode(output.policy_json).Statement : s.Sid => s.Resource if contains(["ManageSchedules", "ManageDeadLetterQueue", "ManageNotificationRule", "ManageNotificationTopic"], s.Sid) } == {
      ManageSchedules         = ["arn:aws:scheduler:eu-west-1:111111111111:schedule/default/batchform-dev-*"]
      ManageDeadLetterQueue   = ["arn:aws:sqs:eu-west-1:111111111111:batchform-dev-*"]
      ManageNotificationRule  = ["arn:aws:events:eu-west-1:111111111111:rule/batchform-dev-*"]
      ManageNotificationTopic = ["arn:aws:sns:eu-west-1:111111111111:batchform-dev-*"]
    }
    error_message = "Schedules, their queue, the rule and the topic must be the account's by name."
  }

  assert {
    condition = [for s in jsondecode(output.policy_json).Statement : s.Condition if contains(["CreateNotificationKey", "ManageNotificationKey"], s.Sid)] == [
      { StringEquals = { "aws:RequestTag/batchform:account" = "dev" } },
      { StringEquals = { "aws:ResourceTag/batchform:account" = "dev" } },
    ]
    error_message = "The notifications' key may be made and managed only with the account's tag."
  }
}

run "the_plan_only_policy_reads_the_schedules_and_notifications_the_deployer_manages" {
  command = plan

  assert {
    condition = length(setsubtract([
      "scheduler:GetSchedule", "sqs:GetQueueAttributes", "sqs:ListQueueTags", "events:DescribeRule",
      "events:ListTargetsByRule", "sns:GetTopicAttributes", "sns:GetSubscriptionAttributes",
      "kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListAliases",
    ], output.plan_actions)) == 0
    error_message = "A plan of an account with schedules or notifications reads them: the plan-only policy must allow it."
  }

  assert {
    condition = { for s in jsondecode(output.plan_policy_json).Statement : s.Sid => s.Resource if contains(["ReadSchedules", "ReadNotificationTopic"], s.Sid) } == {
      ReadSchedules         = ["arn:aws:scheduler:eu-west-1:111111111111:schedule/default/batchform-dev-*"]
      ReadNotificationTopic = ["arn:aws:sns:eu-west-1:111111111111:batchform-dev-*"]
    }
    error_message = "The plan-only policy reads them on the resources the deployer manages them on."
  }

  assert {
    condition     = [for s in jsondecode(output.plan_policy_json).Statement : s.Condition if s.Sid == "ReadNotificationKey"] == [{ StringEquals = { "aws:ResourceTag/batchform:account" = "dev" } }]
    error_message = "The notifications' key is read only with the account's tag, as it is managed."
  }
}
