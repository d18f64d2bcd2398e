data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id

  # IAM name_prefix accepts at most 38 characters.
  execution_role_prefix = "${substr(var.name_prefix, 0, 26)}batch-exec-"
  job_role_prefixes     = { for k, j in var.jobs : k => "${substr("${var.name_prefix}${k}", 0, 33)}-job-" }

  ecs_tasks_assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EcsTasksAssumeRole"
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
    }]
  })

  # Everything the execution role needs is derived from inputs that do not include the image,
  # so a new build never touches IAM.
  log_group_arns = sort(distinct([
    for j in values(var.jobs) : "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:${j.log_group_name}:*"
  ]))
  secret_arns = distinct(flatten([for j in values(var.jobs) : values(j.secrets)]))
  ssm_parameter_arns = sort([
    for arn in local.secret_arns : arn if can(regex("^arn:[^:]+:ssm:", arn))
  ])
  # Secrets Manager references may carry `:json-key:version-stage:version-id`; IAM wants the secret ARN itself.
  secretsmanager_arns = sort(distinct([
    for arn in local.secret_arns : join(":", slice(split(":", arn), 0, 7)) if can(regex("^arn:[^:]+:secretsmanager:", arn))
  ]))
  repository_arns = sort(distinct(var.repository_arns))
  kms_key_arns    = sort(distinct(var.secrets_kms_key_arns))

  execution_statements = concat(
    length(local.repository_arns) == 0 ? [] : [
      {
        Sid      = "PullImages"
        Effect   = "Allow"
        Action   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        Resource = local.repository_arns
      },
      {
        Sid      = "EcrAuthorizationToken"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = ["*"]
      },
    ],
    [
      {
        Sid      = "WriteJobLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = local.log_group_arns
      },
    ],
    length(local.ssm_parameter_arns) == 0 ? [] : [
      {
        Sid      = "ReadSsmSecrets"
        Effect   = "Allow"
        Action   = ["ssm:GetParameters"]
        Resource = local.ssm_parameter_arns
      },
    ],
    length(local.secretsmanager_arns) == 0 ? [] : [
      {
        Sid      = "ReadSecretsManagerSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = local.secretsmanager_arns
      },
    ],
    # Decrypt only serves to read the referenced secrets: without any, the keys grant nothing.
    length(local.kms_key_arns) == 0 || length(local.secret_arns) == 0 ? [] : [
      {
        Sid      = "DecryptSecrets"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = local.kms_key_arns
      },
    ],
  )

  # Each job reads exactly its own fan-out items, `<items_prefix><job>/`, and nothing of another job's.
  items_statements = {
    for k, j in var.jobs : k => var.items_bucket == null ? [] : concat(
      [
        {
          Sid      = "ReadOwnItems"
          Effect   = "Allow"
          Action   = ["s3:GetObject"]
          Resource = ["arn:${local.partition}:s3:::${var.items_bucket}/${var.items_prefix}${k}/*"]
        },
      ],
      var.items_kms_key_arn == null ? [] : [
        {
          Sid      = "DecryptOwnItems"
          Effect   = "Allow"
          Action   = ["kms:Decrypt"]
          Resource = [var.items_kms_key_arn]
        },
      ],
    )
  }

  # A statement id from a volume name: reference-data => ReferenceData.
  efs_sids = { for k, j in var.jobs : k => { for name in keys(j.efs_volumes) : name => replace(title(replace(name, "/[-_]/", " ")), " ", "") } }

  # What each job declares it reads and writes, by key prefix, and the tables it uses: exactly those.
  data_statements = {
    for k, j in var.jobs : k => concat(
      length(j.read_prefix_arns) == 0 ? [] : [
        {
          Sid      = "ReadData"
          Effect   = "Allow"
          Action   = ["s3:GetObject"]
          Resource = sort([for arn in j.read_prefix_arns : "${arn}*"])
        },
      ],
      # Listing only under the read prefixes, one statement per bucket, so that a missing key
      # answers NoSuchKey rather than AccessDenied.
      [
        for i, bucket in sort(distinct([for arn in j.read_prefix_arns : split("/", arn)[0]])) : {
          Sid      = "ListData${i}"
          Effect   = "Allow"
          Action   = ["s3:ListBucket"]
          Resource = [bucket]
          Condition = { StringLike = { "s3:prefix" = sort([
            for arn in j.read_prefix_arns : "${join("/", slice(split("/", arn), 1, length(split("/", arn))))}*" if split("/", arn)[0] == bucket
          ]) } }
        }
      ],
      length(j.write_prefix_arns) == 0 ? [] : [
        {
          Sid      = "WriteData"
          Effect   = "Allow"
          Action   = ["s3:AbortMultipartUpload", "s3:PutObject"]
          Resource = sort([for arn in j.write_prefix_arns : "${arn}*"])
        },
      ],
      var.items_kms_key_arn == null || var.items_bucket == null || length([
        for arn in j.write_prefix_arns : arn if split("/", arn)[0] == "arn:${local.partition}:s3:::${coalesce(var.items_bucket, "-")}"
        ]) == 0 ? [] : [
        {
          Sid      = "EncryptData"
          Effect   = "Allow"
          Action   = ["kms:GenerateDataKey"]
          Resource = [var.items_kms_key_arn]
        },
      ],
      # EFS with IAM authorization: mount exactly these file systems, and write to those not
      # read-only, through exactly the declared access point.
      flatten([
        for name in sort(keys(j.efs_volumes)) : [
          for statement in [
            { Sid = "MountEfs${local.efs_sids[k][name]}", Action = ["elasticfilesystem:ClientMount"] },
            { Sid = "WriteEfs${local.efs_sids[k][name]}", Action = ["elasticfilesystem:ClientWrite"] },
            ] : merge(
            statement,
            {
              Effect   = "Allow"
              Resource = ["arn:${local.partition}:elasticfilesystem:${var.region}:${local.account_id}:file-system/${j.efs_volumes[name].file_system_id}"]
            },
            j.efs_volumes[name].access_point_id == null ? {} : {
              Condition = { StringEquals = { "elasticfilesystem:AccessPointArn" = "arn:${local.partition}:elasticfilesystem:${var.region}:${local.account_id}:access-point/${j.efs_volumes[name].access_point_id}" } }
            },
          ) if startswith(statement.Sid, "Mount") || !j.efs_volumes[name].read_only
        ]
      ]),
      length(j.table_arns) == 0 ? [] : [
        {
          Sid      = "UseTables"
          Effect   = "Allow"
          Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
          Resource = sort(distinct(j.table_arns))
        },
      ],
    )
  }

  job_policies = {
    for k, j in var.jobs : k => jsonencode({
      Version = "2012-10-17"
      Statement = concat(local.items_statements[k], local.data_statements[k], [
        for s in j.job_role_policy_statements : merge(
          s.sid == null ? {} : { Sid = s.sid },
          { Effect = "Allow", Action = s.actions, Resource = s.resources },
        )
      ])
    }) if length(j.job_role_policy_statements) + length(local.items_statements[k]) + length(local.data_statements[k]) > 0
  }

  # Canonical container properties: keys sorted by jsonencode, lists sorted, no nulls and no empty
  # collections, numbers as the strings the API returns, so a second plan is empty.
  container_properties = {
    for k, j in var.jobs : k => jsonencode(merge(
      {
        image            = j.image
        executionRoleArn = aws_iam_role.execution.arn
        jobRoleArn       = aws_iam_role.job[k].arn
        resourceRequirements = concat(
          [
            { type = "VCPU", value = tostring(j.vcpus) },
            { type = "MEMORY", value = tostring(j.memory) },
          ],
          j.gpus == null ? [] : [{ type = "GPU", value = tostring(j.gpus) }],
        )
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            awslogs-group         = j.log_group_name
            awslogs-region        = var.region
            awslogs-stream-prefix = k
          }
        }
      },
      length(j.command) == 0 ? {} : { command = j.command },
      length(j.environment) == 0 ? {} : {
        environment = [for name in sort(keys(j.environment)) : { name = name, value = j.environment[name] }]
      },
      length(j.secrets) == 0 ? {} : {
        secrets = [for name in sort(keys(j.secrets)) : { name = name, valueFrom = j.secrets[name] }]
      },
      j.ephemeral_storage_gib == null ? {} : { ephemeralStorage = { sizeInGiB = j.ephemeral_storage_gib } },
      # Not a conditional: volumes with and without an access point are objects of two shapes,
      # which a conditional cannot unify with {}.
      merge({}, [for present in(length(j.efs_volumes) > 0 ? [true] : []) : {
        volumes = [
          for name in sort(keys(j.efs_volumes)) : {
            name = name
            efsVolumeConfiguration = {
              fileSystemId        = j.efs_volumes[name].file_system_id
              transitEncryption   = "ENABLED"
              authorizationConfig = merge({ iam = "ENABLED" }, j.efs_volumes[name].access_point_id == null ? {} : { accessPointId = j.efs_volumes[name].access_point_id })
            }
          }
        ]
        mountPoints = [
          for name in sort(keys(j.efs_volumes)) : {
            sourceVolume = name, containerPath = j.efs_volumes[name].container_path, readOnly = j.efs_volumes[name].read_only
          }
        ]
      }]...),
      j.platform != "FARGATE" ? {} : {
        fargatePlatformConfiguration = { platformVersion = "LATEST" }
        networkConfiguration         = { assignPublicIp = var.assign_public_ip ? "ENABLED" : "DISABLED" }
      },
    ))
  }
}

################################################################################
# Task execution role (shared): pulls images, writes logs, reads the referenced secrets
################################################################################

resource "aws_iam_role" "execution" {
  name_prefix        = local.execution_role_prefix
  description        = "Task execution role of the Batch job definitions ${var.name_prefix}*"
  assume_role_policy = local.ecs_tasks_assume_role_policy
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name   = "batch-execution"
  role   = aws_iam_role.execution.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.execution_statements })
}

################################################################################
# One job role per job, with only that job's statements
################################################################################

resource "aws_iam_role" "job" {
  for_each = var.jobs

  name_prefix        = local.job_role_prefixes[each.key]
  description        = "Job role of the Batch job definition ${var.name_prefix}${each.key}"
  assume_role_policy = local.ecs_tasks_assume_role_policy
  tags               = merge(var.tags, each.value.tags)
}

resource "aws_iam_role_policy" "job" {
  for_each = local.job_policies

  name   = "job"
  role   = aws_iam_role.job[each.key].id
  policy = each.value
}

################################################################################
# Job definitions
################################################################################

resource "aws_batch_job_definition" "this" {
  for_each = var.jobs

  name                       = "${var.name_prefix}${each.key}"
  type                       = "container"
  platform_capabilities      = [each.value.platform]
  container_properties       = local.container_properties[each.key]
  deregister_on_new_revision = var.deregister_on_new_revision
  propagate_tags             = true
  parameters                 = length(each.value.parameters) == 0 ? null : each.value.parameters
  scheduling_priority        = each.value.scheduling_priority

  retry_strategy {
    attempts = each.value.retry_attempts

    dynamic "evaluate_on_exit" {
      for_each = each.value.evaluate_on_exit

      content {
        action           = evaluate_on_exit.value.action
        on_exit_code     = evaluate_on_exit.value.on_exit_code
        on_reason        = evaluate_on_exit.value.on_reason
        on_status_reason = evaluate_on_exit.value.on_status_reason
      }
    }
  }

  timeout {
    attempt_duration_seconds = each.value.timeout_seconds
  }

  tags = merge(var.tags, each.value.tags)

  lifecycle {
    precondition {
      condition     = length("${var.name_prefix}${each.key}") <= 128
      error_message = "name_prefix plus the job key must not exceed 128 characters (job definition name limit)."
    }
  }
}
