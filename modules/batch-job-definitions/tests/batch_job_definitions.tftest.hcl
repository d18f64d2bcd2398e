# Plan-level tests of the batch-job-definitions module with a mocked AWS provider.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
}

# Fixed role ARNs, known at plan time, so container properties can be compared exactly.
override_resource {
  target          = aws_iam_role.execution
  override_during = plan
  values = {
    arn         = "arn:aws:iam::123456789012:role/exec"
    id          = "exec"
    name        = "exec"
    unique_id   = "AROAEXEC"
    create_date = "2024-01-01T00:00:00Z"
  }
}

override_resource {
  target          = aws_iam_role.job
  override_during = plan
  values = {
    arn         = "arn:aws:iam::123456789012:role/job"
    id          = "job"
    name        = "job"
    unique_id   = "AROAJOB"
    create_date = "2024-01-01T00:00:00Z"
  }
}

variables {
  name_prefix     = "bf-"
  region          = "eu-west-1"
  repository_arns = ["arn:aws:ecr:eu-west-1:123456789012:repository/batchform/worker"]
  jobs = {
    hello = {
      image          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
      vcpus          = 0.5
      memory         = 1024
      log_group_name = "/batchform/hello"
      environment    = { ZETA = "z", ALPHA = "a" }
      secrets = {
        TOKEN = "arn:aws:ssm:eu-west-1:123456789012:parameter/bf/token"
        DB    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:bf/db-AbCdEf:password::"
      }
    }
    crunch = {
      image           = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
      platform        = "EC2"
      vcpus           = 2
      memory          = 4096
      command         = ["crunch", "Ref::day"]
      log_group_name  = "/batchform/crunch"
      retry_attempts  = 3
      timeout_seconds = 600
      parameters      = { day = "today" }
      evaluate_on_exit = [
        { action = "RETRY", on_status_reason = "Host EC2*" },
        { action = "EXIT", on_exit_code = "1*" },
      ]
      job_role_policy_statements = [
        { sid = "ReadInputs", actions = ["s3:GetObject"], resources = ["arn:aws:s3:::inputs/*"] },
        { actions = ["cloudwatch:PutMetricData"], resources = ["*"] },
      ]
      tags = { Workload = "crunch" }
    }
  }
  tags = { Project = "batchform" }
}

run "fargate_container_properties_are_canonical" {
  command = plan

  assert {
    condition = jsondecode(aws_batch_job_definition.this["hello"].container_properties) == {
      image            = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
      executionRoleArn = "arn:aws:iam::123456789012:role/exec"
      jobRoleArn       = "arn:aws:iam::123456789012:role/job"
      resourceRequirements = [
        { type = "VCPU", value = "0.5" },
        { type = "MEMORY", value = "1024" },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = "/batchform/hello"
          awslogs-region        = "eu-west-1"
          awslogs-stream-prefix = "hello"
        }
      }
      environment = [
        { name = "ALPHA", value = "a" },
        { name = "ZETA", value = "z" },
      ]
      secrets = [
        { name = "DB", valueFrom = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:bf/db-AbCdEf:password::" },
        { name = "TOKEN", valueFrom = "arn:aws:ssm:eu-west-1:123456789012:parameter/bf/token" },
      ]
      fargatePlatformConfiguration = { platformVersion = "LATEST" }
      networkConfiguration         = { assignPublicIp = "DISABLED" }
    }
    error_message = "Fargate container properties must be canonical: sorted environment and secrets, string resource requirements, no command when empty, Fargate settings present."
  }

  assert {
    condition     = !strcontains(jsonencode(jsondecode(aws_batch_job_definition.this["hello"].container_properties).environment), "arn:aws:s")
    error_message = "Secrets must never appear in the plain environment."
  }

  assert {
    condition = (
      aws_batch_job_definition.this["hello"].name == "bf-hello" &&
      aws_batch_job_definition.this["hello"].type == "container" &&
      aws_batch_job_definition.this["hello"].platform_capabilities == toset(["FARGATE"]) &&
      aws_batch_job_definition.this["hello"].propagate_tags == true &&
      aws_batch_job_definition.this["hello"].deregister_on_new_revision == true &&
      aws_batch_job_definition.this["hello"].parameters == null
    )
    error_message = "Name, type, platform, propagate_tags, deregister_on_new_revision or parameters are wrong."
  }

  assert {
    condition = (
      aws_batch_job_definition.this["hello"].retry_strategy[0].attempts == 1 &&
      length(aws_batch_job_definition.this["hello"].retry_strategy[0].evaluate_on_exit) == 0 &&
      aws_batch_job_definition.this["hello"].timeout[0].attempt_duration_seconds == 3600
    )
    error_message = "Defaults: 1 attempt, no evaluate_on_exit, 3600 s timeout."
  }
}

run "ec2_job_has_command_retry_strategy_and_no_fargate_settings" {
  command = plan

  assert {
    condition = jsondecode(aws_batch_job_definition.this["crunch"].container_properties) == {
      image            = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
      executionRoleArn = "arn:aws:iam::123456789012:role/exec"
      jobRoleArn       = "arn:aws:iam::123456789012:role/job"
      command          = ["crunch", "Ref::day"]
      resourceRequirements = [
        { type = "VCPU", value = "2" },
        { type = "MEMORY", value = "4096" },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = "/batchform/crunch"
          awslogs-region        = "eu-west-1"
          awslogs-stream-prefix = "crunch"
        }
      }
    }
    error_message = "EC2 container properties must carry the command and no Fargate, environment or secrets keys."
  }

  assert {
    condition = (
      aws_batch_job_definition.this["crunch"].platform_capabilities == toset(["EC2"]) &&
      aws_batch_job_definition.this["crunch"].retry_strategy[0].attempts == 3 &&
      aws_batch_job_definition.this["crunch"].timeout[0].attempt_duration_seconds == 600 &&
      aws_batch_job_definition.this["crunch"].parameters == tomap({ day = "today" })
    )
    error_message = "platform, retry attempts, timeout or parameters are wrong."
  }

  assert {
    condition = [
      for e in aws_batch_job_definition.this["crunch"].retry_strategy[0].evaluate_on_exit :
      "${e.action} code=${coalesce(e.on_exit_code, "-")} status=${coalesce(e.on_status_reason, "-")}"
    ] == ["RETRY code=- status=Host EC2*", "EXIT code=1* status=-"]
    error_message = "evaluate_on_exit conditions must be passed through in order."
  }

  assert {
    condition     = aws_batch_job_definition.this["crunch"].tags == tomap({ Project = "batchform", Workload = "crunch" }) && aws_iam_role.job["crunch"].tags == tomap({ Project = "batchform", Workload = "crunch" })
    error_message = "Module tags and the job's tags must be merged onto the job definition and its role."
  }
}

run "execution_role_is_scoped_to_exactly_the_referenced_resources" {
  command = plan

  assert {
    condition = aws_iam_role_policy.execution.policy == jsonencode({
      Version = "2012-10-17"
      Statement = [
        {
          Sid      = "PullImages"
          Effect   = "Allow"
          Action   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
          Resource = ["arn:aws:ecr:eu-west-1:123456789012:repository/batchform/worker"]
        },
        {
          Sid      = "EcrAuthorizationToken"
          Effect   = "Allow"
          Action   = ["ecr:GetAuthorizationToken"]
          Resource = ["*"]
        },
        {
          Sid    = "WriteJobLogs"
          Effect = "Allow"
          Action = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = [
            "arn:aws:logs:eu-west-1:123456789012:log-group:/batchform/crunch:*",
            "arn:aws:logs:eu-west-1:123456789012:log-group:/batchform/hello:*",
          ]
        },
        {
          Sid      = "ReadSsmSecrets"
          Effect   = "Allow"
          Action   = ["ssm:GetParameters"]
          Resource = ["arn:aws:ssm:eu-west-1:123456789012:parameter/bf/token"]
        },
        {
          Sid      = "ReadSecretsManagerSecrets"
          Effect   = "Allow"
          Action   = ["secretsmanager:GetSecretValue"]
          Resource = ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:bf/db-AbCdEf"]
        },
      ]
    })
    error_message = "The execution policy must grant exactly: pull from repository_arns, logs on the jobs' groups, the referenced SSM parameters and secrets."
  }

  assert {
    condition = alltrue([
      for policy in [aws_iam_role.execution.assume_role_policy, aws_iam_role.job["hello"].assume_role_policy, aws_iam_role.job["crunch"].assume_role_policy] :
      jsondecode(policy).Statement[0].Principal.Service == "ecs-tasks.amazonaws.com" && jsondecode(policy).Statement[0].Action == "sts:AssumeRole"
    ])
    error_message = "Execution and job roles must trust ecs-tasks.amazonaws.com."
  }

  assert {
    condition     = aws_iam_role.execution.tags == tomap({ Project = "batchform" })
    error_message = "Module tags must be applied to the execution role."
  }
}

run "each_job_role_holds_only_its_own_statements" {
  command = plan

  assert {
    condition     = toset(keys(aws_iam_role.job)) == toset(["hello", "crunch"]) && keys(aws_iam_role_policy.job) == ["crunch"]
    error_message = "Every job gets a role; only jobs with statements get a policy."
  }

  assert {
    condition = aws_iam_role_policy.job["crunch"].policy == jsonencode({
      Version = "2012-10-17"
      Statement = [
        { Sid = "ReadInputs", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["arn:aws:s3:::inputs/*"] },
        { Effect = "Allow", Action = ["cloudwatch:PutMetricData"], Resource = ["*"] },
      ]
    })
    error_message = "The job role policy must contain exactly the job's statements."
  }
}

run "no_repositories_and_no_secrets_leave_only_the_log_statement" {
  command = plan

  variables {
    repository_arns            = []
    assign_public_ip           = true
    deregister_on_new_revision = false
    jobs = {
      public = {
        image          = "public.ecr.aws/docker/library/python:3.12-slim"
        log_group_name = "/batchform/public"
      }
    }
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Sid] == ["WriteJobLogs"]
    error_message = "Without repositories and secrets only the log statement remains (no ECR wildcard)."
  }

  assert {
    condition     = jsondecode(aws_batch_job_definition.this["public"].container_properties).networkConfiguration.assignPublicIp == "ENABLED"
    error_message = "assign_public_ip must reach the Fargate network configuration."
  }

  assert {
    condition     = aws_batch_job_definition.this["public"].deregister_on_new_revision == false
    error_message = "deregister_on_new_revision must be passed through."
  }

  assert {
    condition     = length(aws_iam_role_policy.job) == 0
    error_message = "No job role policy without statements."
  }
}

run "kms_keys_for_secrets_are_granted_decrypt" {
  command = plan

  variables {
    secrets_kms_key_arns = ["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
  }

  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s if s.Sid == "DecryptSecrets"] == [{
      Sid      = "DecryptSecrets"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = ["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
    }]
    error_message = "kms:Decrypt must be granted on exactly secrets_kms_key_arns."
  }
}

run "kms_keys_for_secrets_grant_nothing_when_no_secret_is_referenced" {
  command = plan

  variables {
    secrets_kms_key_arns = ["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
    jobs = {
      plain = {
        image          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
        log_group_name = "/batchform/plain"
      }
    }
  }

  assert {
    condition     = !contains([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Sid], "DecryptSecrets")
    error_message = "Without referenced secrets the execution role must get no kms:Decrypt."
  }
}

run "each_job_reads_exactly_its_own_fan_out_items" {
  command = plan

  variables {
    items_bucket      = "batchform-check-data-123456789012"
    items_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition     = keys(aws_iam_role_policy.job) == ["crunch", "hello"]
    error_message = "With an items bucket every job role gets a policy."
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.job["hello"].policy).Statement == [
      { Sid = "ReadOwnItems", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["arn:aws:s3:::batchform-check-data-123456789012/fan-out/hello/*"] },
      { Sid = "DecryptOwnItems", Effect = "Allow", Action = ["kms:Decrypt"], Resource = [var.items_kms_key_arn] },
    ]
    error_message = "A job's role must read exactly fan-out/<job>/* (and decrypt with the bucket's key)."
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.job["crunch"].policy).Statement[0].Resource == ["arn:aws:s3:::batchform-check-data-123456789012/fan-out/crunch/*"] && [
      for s in jsondecode(aws_iam_role_policy.job["crunch"].policy).Statement : s.Sid if can(s.Sid)
    ] == ["ReadOwnItems", "DecryptOwnItems", "ReadInputs"]
    error_message = "The job's own statements follow its items statements."
  }
}

run "each_job_reads_writes_and_uses_exactly_the_prefixes_and_tables_it_declares" {
  command = plan

  variables {
    items_bucket      = "batchform-check-data-123456789012"
    items_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    jobs = {
      stats = {
        image          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
        log_group_name = "/batchform/stats"
        read_prefix_arns = [
          "arn:aws:s3:::batchform-check-data-123456789012/inputs/",
          "arn:aws:s3:::shared-datasets/census/2020/",
          "arn:aws:s3:::batchform-check-data-123456789012/config/",
        ]
        write_prefix_arns = ["arn:aws:s3:::batchform-check-data-123456789012/results/"]
        table_arns        = ["arn:aws:dynamodb:eu-west-1:123456789012:table/batchform-check-operations"]
      }
      external = {
        image             = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
        log_group_name    = "/batchform/external"
        write_prefix_arns = ["arn:aws:s3:::shared-datasets/out/"]
      }
    }
  }

  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.job["stats"].policy).Statement : s if !startswith(s.Sid, "ReadOwn") && !startswith(s.Sid, "DecryptOwn")] == [
      {
        Sid      = "ReadData", Effect = "Allow", Action = ["s3:GetObject"],
        Resource = ["arn:aws:s3:::batchform-check-data-123456789012/config/*", "arn:aws:s3:::batchform-check-data-123456789012/inputs/*", "arn:aws:s3:::shared-datasets/census/2020/*"]
      },
      {
        Sid       = "ListData0", Effect = "Allow", Action = ["s3:ListBucket"], Resource = ["arn:aws:s3:::batchform-check-data-123456789012"],
        Condition = { StringLike = { "s3:prefix" = ["config/*", "inputs/*"] } }
      },
      {
        Sid       = "ListData1", Effect = "Allow", Action = ["s3:ListBucket"], Resource = ["arn:aws:s3:::shared-datasets"],
        Condition = { StringLike = { "s3:prefix" = ["census/2020/*"] } }
      },
      { Sid = "WriteData", Effect = "Allow", Action = ["s3:AbortMultipartUpload", "s3:PutObject"], Resource = ["arn:aws:s3:::batchform-check-data-123456789012/results/*"] },
      { Sid = "EncryptData", Effect = "Allow", Action = ["kms:GenerateDataKey"], Resource = [var.items_kms_key_arn] },
      {
        Sid      = "UseTables", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
        Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/batchform-check-operations"]
      },
    ]
    error_message = "A job's role must get and list exactly under its read prefixes, put exactly under its write prefixes, encrypt with the bucket's key only to write there, and use exactly its tables."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.job["external"].policy).Statement : s.Sid] == ["ReadOwnItems", "DecryptOwnItems", "WriteData"]
    error_message = "Writing only to another account's bucket grants no use of this account's key."
  }
}

run "rejects_a_read_prefix_with_a_wildcard" {
  command = plan

  variables {
    jobs = {
      stats = {
        image            = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
        log_group_name   = "/batchform/stats"
        read_prefix_arns = ["arn:aws:s3:::batchform-check-data-123456789012/inputs/*"]
      }
    }
  }

  expect_failures = [var.jobs]
}

run "rejects_a_write_prefix_that_is_a_whole_bucket" {
  command = plan

  variables {
    jobs = {
      stats = {
        image             = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
        log_group_name    = "/batchform/stats"
        write_prefix_arns = ["arn:aws:s3:::batchform-check-data-123456789012/"]
      }
    }
  }

  expect_failures = [var.jobs]
}

run "rejects_a_read_prefix_without_its_trailing_slash" {
  command = plan

  variables {
    jobs = {
      stats = {
        image            = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
        log_group_name   = "/batchform/stats"
        read_prefix_arns = ["arn:aws:s3:::batchform-check-data-123456789012/inputs"]
      }
    }
  }

  expect_failures = [var.jobs]
}

run "rejects_a_table_named_without_its_arn" {
  command = plan

  variables {
    jobs = {
      stats = {
        image          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
        log_group_name = "/batchform/stats"
        table_arns     = ["batchform-check-operations"]
      }
    }
  }

  expect_failures = [var.jobs]
}

run "rejects_an_items_bucket_that_is_no_bucket_name" {
  command = plan

  variables {
    items_bucket = "arn:aws:s3:::bucket"
  }

  expect_failures = [var.items_bucket]
}

# ------------------------------------------- a new image is one new revision

run "build_1_is_applied" {
  command = apply

  assert {
    condition     = toset(keys(output.arns)) == toset(["hello", "crunch"]) && output.names == { hello = "bf-hello", crunch = "bf-crunch" }
    error_message = "arns and names outputs must be keyed by job."
  }

  assert {
    condition     = output.execution_role_arn == "arn:aws:iam::123456789012:role/exec" && output.job_role_arns["crunch"] == "arn:aws:iam::123456789012:role/job"
    error_message = "Role outputs are wrong."
  }
}

run "changing_one_image_touches_only_that_job_definition" {
  command = plan

  variables {
    jobs = {
      hello = {
        image          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:2"
        vcpus          = 0.5
        memory         = 1024
        log_group_name = "/batchform/hello"
        environment    = { ZETA = "z", ALPHA = "a" }
        secrets = {
          TOKEN = "arn:aws:ssm:eu-west-1:123456789012:parameter/bf/token"
          DB    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:bf/db-AbCdEf:password::"
        }
      }
      crunch = {
        image           = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
        platform        = "EC2"
        vcpus           = 2
        memory          = 4096
        command         = ["crunch", "Ref::day"]
        log_group_name  = "/batchform/crunch"
        retry_attempts  = 3
        timeout_seconds = 600
        parameters      = { day = "today" }
        evaluate_on_exit = [
          { action = "RETRY", on_status_reason = "Host EC2*" },
          { action = "EXIT", on_exit_code = "1*" },
        ]
        job_role_policy_statements = [
          { sid = "ReadInputs", actions = ["s3:GetObject"], resources = ["arn:aws:s3:::inputs/*"] },
          { actions = ["cloudwatch:PutMetricData"], resources = ["*"] },
        ]
        tags = { Workload = "crunch" }
      }
    }
  }

  assert {
    condition     = jsondecode(aws_batch_job_definition.this["hello"].container_properties).image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:2"
    error_message = "The changed job definition must carry the new image."
  }

  assert {
    condition     = jsondecode(aws_batch_job_definition.this["crunch"].container_properties).image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
    error_message = "The other job definition must keep its image."
  }

  assert {
    condition = jsondecode(aws_batch_job_definition.this["crunch"].container_properties) == {
      image            = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
      executionRoleArn = "arn:aws:iam::123456789012:role/exec"
      jobRoleArn       = "arn:aws:iam::123456789012:role/job"
      command          = ["crunch", "Ref::day"]
      resourceRequirements = [
        { type = "VCPU", value = "2" },
        { type = "MEMORY", value = "4096" },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = "/batchform/crunch"
          awslogs-region        = "eu-west-1"
          awslogs-stream-prefix = "crunch"
        }
      }
    }
    error_message = "The other job definition's container properties must be exactly as with build 1."
  }

  # Every IAM argument is the same as with build 1 (the values asserted in the runs above), i.e. no
  # IAM argument is derived from an image.
  assert {
    condition = aws_iam_role_policy.execution.policy == jsonencode({
      Version = "2012-10-17"
      Statement = [
        {
          Sid      = "PullImages"
          Effect   = "Allow"
          Action   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
          Resource = ["arn:aws:ecr:eu-west-1:123456789012:repository/batchform/worker"]
        },
        {
          Sid      = "EcrAuthorizationToken"
          Effect   = "Allow"
          Action   = ["ecr:GetAuthorizationToken"]
          Resource = ["*"]
        },
        {
          Sid    = "WriteJobLogs"
          Effect = "Allow"
          Action = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = [
            "arn:aws:logs:eu-west-1:123456789012:log-group:/batchform/crunch:*",
            "arn:aws:logs:eu-west-1:123456789012:log-group:/batchform/hello:*",
          ]
        },
        {
          Sid      = "ReadSsmSecrets"
          Effect   = "Allow"
          Action   = ["ssm:GetParameters"]
          Resource = ["arn:aws:ssm:eu-west-1:123456789012:parameter/bf/token"]
        },
        {
          Sid      = "ReadSecretsManagerSecrets"
          Effect   = "Allow"
          Action   = ["secretsmanager:GetSecretValue"]
          Resource = ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:bf/db-AbCdEf"]
        },
      ]
    })
    error_message = "The execution policy must not change with the image."
  }

  assert {
    condition = aws_iam_role_policy.job["crunch"].policy == jsonencode({
      Version = "2012-10-17"
      Statement = [
        { Sid = "ReadInputs", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["arn:aws:s3:::inputs/*"] },
        { Effect = "Allow", Action = ["cloudwatch:PutMetricData"], Resource = ["*"] },
      ]
    })
    error_message = "Job role policies must not change with the image."
  }

  assert {
    condition = (
      aws_iam_role.execution.name_prefix == "bf-batch-exec-" &&
      aws_iam_role.execution.description == "Task execution role of the Batch job definitions bf-*" &&
      aws_iam_role.job["hello"].name_prefix == "bf-hello-job-" &&
      aws_iam_role.job["hello"].description == "Job role of the Batch job definition bf-hello" &&
      aws_iam_role.job["hello"].assume_role_policy == aws_iam_role.execution.assume_role_policy &&
      jsondecode(aws_iam_role.execution.assume_role_policy).Statement == [{ Sid = "EcsTasksAssumeRole", Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ecs-tasks.amazonaws.com" } }]
    )
    error_message = "Role names, descriptions and trust policies must not change with the image."
  }

  assert {
    condition     = output.execution_role_arn == run.build_1_is_applied.execution_role_arn && output.job_role_arns == run.build_1_is_applied.job_role_arns
    error_message = "Roles must not be replaced when an image changes."
  }

  assert {
    condition     = output.arns["crunch"] == run.build_1_is_applied.arns["crunch"] && output.revisions["crunch"] == run.build_1_is_applied.revisions["crunch"]
    error_message = "The other job definition must keep its revision."
  }
}

# ---------------------------------------------------------------- bad inputs

run "rejects_empty_jobs" {
  command = plan

  variables {
    jobs = {}
  }

  expect_failures = [var.jobs]
}

run "rejects_job_key_with_invalid_characters" {
  command = plan

  variables {
    jobs = { "my job" = { image = "batchform/worker:1", log_group_name = "/batchform/jobs" } }
  }

  expect_failures = [var.jobs]
}

run "rejects_name_prefix_with_invalid_characters" {
  command = plan

  variables {
    name_prefix = "bf prod/"
  }

  expect_failures = [var.name_prefix]
}

run "rejects_name_prefix_and_key_longer_than_128_characters" {
  command = plan

  variables {
    name_prefix = join("", [for i in range(64) : "p"])
    jobs        = { (join("", [for i in range(65) : "k"])) = { image = "batchform/worker:1", log_group_name = "/batchform/jobs" } }
  }

  expect_failures = [aws_batch_job_definition.this]
}

run "rejects_malformed_region" {
  command = plan

  variables {
    region = "Ireland"
  }

  expect_failures = [var.region]
}

run "rejects_repository_arn_of_another_service" {
  command = plan

  variables {
    repository_arns = ["arn:aws:s3:::batchform"]
  }

  expect_failures = [var.repository_arns]
}

run "rejects_kms_alias_for_secrets" {
  command = plan

  variables {
    secrets_kms_key_arns = ["alias/aws/ssm"]
  }

  expect_failures = [var.secrets_kms_key_arns]
}

run "a_scheduling_priority_reaches_the_job_definition" {
  command = plan

  variables {
    jobs = { ranked = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", scheduling_priority = 9999 } }
  }

  assert {
    condition     = aws_batch_job_definition.this["ranked"].scheduling_priority == 9999
    error_message = "scheduling_priority must be the job definition's schedulingPriority."
  }
}

run "rejects_scheduling_priority_over_9999" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", scheduling_priority = 10000 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_scheduling_priority_zero_which_the_provider_would_leave_out" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", scheduling_priority = 0 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_fractional_scheduling_priority" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", scheduling_priority = 1.5 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_retry_attempts_zero" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", retry_attempts = 0 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_retry_attempts_eleven" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", retry_attempts = 11 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_fractional_retry_attempts" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", retry_attempts = 1.5 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_timeout_of_59_seconds" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", timeout_seconds = 59 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_negative_timeout" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", timeout_seconds = -60 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_env_var_name_starting_with_a_digit" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", environment = { "1BAD" = "x" } } }
  }

  expect_failures = [var.jobs]
}

run "rejects_env_var_name_with_a_dash" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", environment = { "BAD-NAME" = "x" } } }
  }

  expect_failures = [var.jobs]
}

run "rejects_env_var_reserved_aws_batch_prefix" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", environment = { AWS_BATCH_JOB_ID = "x" } } }
  }

  expect_failures = [var.jobs]
}

run "rejects_secret_name_that_is_not_a_valid_variable" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", secrets = { "my secret" = "arn:aws:ssm:eu-west-1:123456789012:parameter/x" } } }
  }

  expect_failures = [var.jobs]
}

run "rejects_secret_arn_that_is_not_ssm_or_secretsmanager" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", secrets = { TOKEN = "arn:aws:s3:::bucket/token" } } }
  }

  expect_failures = [var.jobs]
}

run "rejects_secret_given_as_a_plain_name" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", secrets = { TOKEN = "/batchform/token" } } }
  }

  expect_failures = [var.jobs]
}

run "rejects_variable_both_in_environment_and_secrets" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", environment = { TOKEN = "plain" }, secrets = { TOKEN = "arn:aws:ssm:eu-west-1:123456789012:parameter/x" } } }
  }

  expect_failures = [var.jobs]
}

run "rejects_zero_vcpus" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", vcpus = 0 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_negative_vcpus" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", vcpus = -1 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_fargate_vcpus_fargate_does_not_offer" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", vcpus = 3, memory = 8192 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_fractional_vcpus_on_ec2" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", platform = "EC2", vcpus = 1.5 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_memory_below_512" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", platform = "EC2", memory = 256 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_fractional_memory" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", platform = "EC2", memory = 1024.5 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_fargate_memory_outside_the_vcpu_range" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", vcpus = 1, memory = 16384 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_fargate_memory_not_on_a_step" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", vcpus = 2, memory = 5000 } }
  }

  expect_failures = [var.jobs]
}

run "rejects_unknown_platform" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", platform = "LAMBDA" } }
  }

  expect_failures = [var.jobs]
}

run "rejects_more_than_five_evaluate_on_exit_conditions" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", evaluate_on_exit = [for c in range(6) : { action = "RETRY", on_exit_code = tostring(c) }] } }
  }

  expect_failures = [var.jobs]
}

run "rejects_unknown_evaluate_on_exit_action" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", evaluate_on_exit = [{ action = "RESTART", on_exit_code = "1" }] } }
  }

  expect_failures = [var.jobs]
}

run "rejects_non_numeric_on_exit_code" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", evaluate_on_exit = [{ action = "EXIT", on_exit_code = "one" }] } }
  }

  expect_failures = [var.jobs]
}

run "rejects_on_reason_with_forbidden_characters" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", evaluate_on_exit = [{ action = "EXIT", on_reason = "out-of-memory!" }] } }
  }

  expect_failures = [var.jobs]
}

run "rejects_image_without_tag_or_digest" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker" } }
  }

  expect_failures = [var.jobs]
}

run "rejects_image_with_whitespace" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", image = "batchform/worker: 1" } }
  }

  expect_failures = [var.jobs]
}

run "rejects_log_group_name_with_spaces" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", log_group_name = "/batchform/my logs" } }
  }

  expect_failures = [var.jobs]
}

run "rejects_wildcard_action_in_job_role_statement" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", job_role_policy_statements = [{ actions = ["*"], resources = ["arn:aws:s3:::b/*"] }] } }
  }

  expect_failures = [var.jobs]
}

run "rejects_service_wide_wildcard_action" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", job_role_policy_statements = [{ actions = ["s3:*"], resources = ["arn:aws:s3:::b/*"] }] } }
  }

  expect_failures = [var.jobs]
}

run "rejects_action_with_a_wildcard_in_its_name" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", job_role_policy_statements = [{ actions = ["s3:GetObject", "s3:Get*"], resources = ["arn:aws:s3:::b/*"] }] } }
  }

  expect_failures = [var.jobs]
}

run "rejects_action_with_a_single_character_wildcard" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", job_role_policy_statements = [{ actions = ["s3:?etObject"], resources = ["arn:aws:s3:::b/*"] }] } }
  }

  expect_failures = [var.jobs]
}

run "rejects_secrets_manager_arn_without_its_suffix" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", secrets = { DB = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:bf/db" } } }
  }

  expect_failures = [var.jobs]
}

run "rejects_statement_without_actions" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", job_role_policy_statements = [{ actions = [], resources = ["arn:aws:s3:::b/*"] }] } }
  }

  expect_failures = [var.jobs]
}

run "rejects_statement_resource_that_is_not_an_arn" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", job_role_policy_statements = [{ actions = ["s3:GetObject"], resources = ["my-bucket"] }] } }
  }

  expect_failures = [var.jobs]
}

run "rejects_duplicate_statement_sids" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", job_role_policy_statements = [{ sid = "A", actions = ["s3:GetObject"], resources = ["arn:aws:s3:::b/*"] }, { sid = "A", actions = ["s3:PutObject"], resources = ["arn:aws:s3:::b/*"] }] } }
  }

  expect_failures = [var.jobs]
}

run "rejects_non_alphanumeric_sid" {
  command = plan

  variables {
    jobs = { bad = { image = "batchform/worker:1", log_group_name = "/batchform/jobs", job_role_policy_statements = [{ sid = "read-inputs", actions = ["s3:GetObject"], resources = ["arn:aws:s3:::b/*"] }] } }
  }

  expect_failures = [var.jobs]
}


run "ephemeral_storage_gpus_and_efs_volumes_reach_the_definition_and_the_role" {
  command = plan

  variables {
    jobs = {
      scratch = {
        image                 = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
        log_group_name        = "/batchform/scratch"
        vcpus                 = 1
        memory                = 2048
        ephemeral_storage_gib = 100
        efs_volumes = {
          reference-data = { file_system_id = "fs-0123456789abcdef0", access_point_id = "fsap-0123456789abcdef0", container_path = "/mnt/reference", read_only = true }
          work           = { file_system_id = "fs-0fedcba9876543210", container_path = "/mnt/work" }
        }
      }
      train = {
        image          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
        log_group_name = "/batchform/train"
        platform       = "EC2"
        vcpus          = 4
        memory         = 16384
        gpus           = 1
      }
    }
  }

  assert {
    condition     = jsondecode(aws_batch_job_definition.this["scratch"].container_properties).ephemeralStorage == { sizeInGiB = 100 }
    error_message = "ephemeral_storage_gib must size the Fargate task's storage."
  }

  assert {
    condition = jsondecode(aws_batch_job_definition.this["scratch"].container_properties).volumes == [
      { name = "reference-data", efsVolumeConfiguration = { fileSystemId = "fs-0123456789abcdef0", transitEncryption = "ENABLED", authorizationConfig = { iam = "ENABLED", accessPointId = "fsap-0123456789abcdef0" } } },
      { name = "work", efsVolumeConfiguration = { fileSystemId = "fs-0fedcba9876543210", transitEncryption = "ENABLED", authorizationConfig = { iam = "ENABLED" } } },
      ] && jsondecode(aws_batch_job_definition.this["scratch"].container_properties).mountPoints == [
      { sourceVolume = "reference-data", containerPath = "/mnt/reference", readOnly = true },
      { sourceVolume = "work", containerPath = "/mnt/work", readOnly = false },
    ]
    error_message = "Each EFS volume must be mounted with transit encryption and IAM authorization on."
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.job["scratch"].policy).Statement == [
      {
        Sid       = "MountEfsReferenceData", Effect = "Allow", Action = ["elasticfilesystem:ClientMount"],
        Resource  = ["arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0123456789abcdef0"],
        Condition = { StringEquals = { "elasticfilesystem:AccessPointArn" = "arn:aws:elasticfilesystem:eu-west-1:123456789012:access-point/fsap-0123456789abcdef0" } }
      },
      {
        Sid      = "MountEfsWork", Effect = "Allow", Action = ["elasticfilesystem:ClientMount"],
        Resource = ["arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0fedcba9876543210"]
      },
      {
        Sid      = "WriteEfsWork", Effect = "Allow", Action = ["elasticfilesystem:ClientWrite"],
        Resource = ["arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0fedcba9876543210"]
      },
    ]
    error_message = "The job's role must mount exactly its file systems, read-only ones without write, through their access point."
  }

  assert {
    condition = jsondecode(aws_batch_job_definition.this["train"].container_properties).resourceRequirements == [
      { type = "VCPU", value = "4" }, { type = "MEMORY", value = "16384" }, { type = "GPU", value = "1" },
    ]
    error_message = "gpus must reserve GPUs for an EC2 job."
  }
}

run "rejects_ephemeral_storage_on_ec2" {
  command = plan

  variables {
    jobs = {
      bad = { image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1", log_group_name = "/batchform/bad", platform = "EC2", ephemeral_storage_gib = 50 }
    }
  }

  expect_failures = [var.jobs]
}

run "rejects_ephemeral_storage_of_20_gib" {
  command = plan

  variables {
    jobs = {
      bad = { image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1", log_group_name = "/batchform/bad", ephemeral_storage_gib = 20 }
    }
  }

  expect_failures = [var.jobs]
}

run "rejects_gpus_on_fargate" {
  command = plan

  variables {
    jobs = {
      bad = { image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1", log_group_name = "/batchform/bad", gpus = 1 }
    }
  }

  expect_failures = [var.jobs]
}

run "rejects_an_efs_volume_that_is_no_file_system" {
  command = plan

  variables {
    jobs = {
      bad = {
        image          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
        log_group_name = "/batchform/bad"
        efs_volumes    = { data = { file_system_id = "vol-0123456789abcdef0", container_path = "/mnt/data" } }
      }
    }
  }

  expect_failures = [var.jobs]
}

run "rejects_an_efs_volume_mounted_at_a_relative_path" {
  command = plan

  variables {
    jobs = {
      bad = {
        image          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker:1"
        log_group_name = "/batchform/bad"
        efs_volumes    = { data = { file_system_id = "fs-0123456789abcdef0", container_path = "mnt/data" } }
      }
    }
  }

  expect_failures = [var.jobs]
}
