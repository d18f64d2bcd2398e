locals {
  p       = var.partition
  account = var.account_id
  region  = var.region
  name    = "batchform-${var.account_name}"
  # Every IAM role and instance profile the modules create starts with this (IAM name prefixes
  # are truncated; see the batch-environment and batch-job-definitions modules).
  iam_prefix   = substr("${local.name}-", 0, 26)
  state_bucket = coalesce(var.state_bucket, "batchform-tfstate-${var.account_id}-${var.region}")
  data_bucket  = "${local.name}-data-${var.account_id}"
  batch        = "arn:${local.p}:batch:${local.region}:${local.account}"
  ec2          = "arn:${local.p}:ec2:${local.region}:${local.account}"
  log_groups   = "arn:${local.p}:logs:${local.region}:${local.account}:log-group:/batchform/${var.account_name}/"
  tables       = "arn:${local.p}:dynamodb:${local.region}:${local.account}:table/${local.name}-"

  statements = concat(
    [
      # The first apply in an account creates Batch's service-linked role; nothing else may.
      {
        Sid       = "CreateBatchServiceLinkedRole"
        Effect    = "Allow"
        Action    = ["iam:CreateServiceLinkedRole"]
        Resource  = ["arn:${local.p}:iam::${local.account}:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"]
        Condition = { StringEquals = { "iam:AWSServiceName" = "batch.amazonaws.com" } }
      },
      {
        Sid    = "ManageBatchformRoles"
        Effect = "Allow"
        Action = [
          "iam:AddRoleToInstanceProfile", "iam:AttachRolePolicy", "iam:CreateInstanceProfile", "iam:CreateRole",
          "iam:DeleteInstanceProfile", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
          "iam:GetInstanceProfile", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
          "iam:ListInstanceProfilesForRole", "iam:ListRolePolicies", "iam:PutRolePolicy",
          "iam:RemoveRoleFromInstanceProfile", "iam:TagInstanceProfile", "iam:TagRole", "iam:UntagInstanceProfile",
          "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription",
        ]
        Resource = [
          "arn:${local.p}:iam::${local.account}:role/${local.iam_prefix}*",
          "arn:${local.p}:iam::${local.account}:instance-profile/${local.iam_prefix}*",
        ]
      },
      # The roles are handed to Batch (job definitions, compute environments), ECS (tasks),
      # EC2 (instances), Spot Fleet and EventBridge Scheduler (schedules), and to nothing else.
      {
        Sid       = "PassBatchformRoles"
        Effect    = "Allow"
        Action    = ["iam:PassRole"]
        Resource  = ["arn:${local.p}:iam::${local.account}:role/${local.iam_prefix}*"]
        Condition = { StringEquals = { "iam:PassedToService" = ["batch.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com", "scheduler.amazonaws.com", "spotfleet.amazonaws.com"] } }
      },
      {
        Sid    = "DescribeBatch"
        Effect = "Allow"
        Action = [
          "batch:DescribeComputeEnvironments", "batch:DescribeJobDefinitions", "batch:DescribeJobQueues",
          "batch:DescribeJobs", "batch:DescribeSchedulingPolicies", "batch:ListJobs",
        ]
        Resource = ["*"]
      },
      {
        Sid    = "ManageBatchformBatch"
        Effect = "Allow"
        Action = [
          "batch:CancelJob", "batch:CreateComputeEnvironment", "batch:CreateJobQueue", "batch:CreateSchedulingPolicy",
          "batch:DeleteComputeEnvironment", "batch:DeleteJobQueue", "batch:DeleteSchedulingPolicy",
          "batch:DeregisterJobDefinition", "batch:ListTagsForResource", "batch:RegisterJobDefinition", "batch:SubmitJob",
          "batch:TagResource", "batch:TerminateJob", "batch:UntagResource", "batch:UpdateComputeEnvironment",
          "batch:UpdateJobQueue", "batch:UpdateSchedulingPolicy",
        ]
        Resource = [
          "${local.batch}:compute-environment/${local.name}-*",
          "${local.batch}:job-queue/${local.name}-*",
          "${local.batch}:job-definition/${local.name}-*",
          "${local.batch}:scheduling-policy/${local.name}-*",
          "${local.batch}:job/*",
        ]
      },
      {
        Sid      = "EcrAuthorizationToken"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = ["*"]
      },
      {
        Sid    = "ManageAndPushRepositories"
        Effect = "Allow"
        Action = [
          "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:CreateRepository",
          "ecr:DeleteLifecyclePolicy", "ecr:DeleteRepository", "ecr:DeleteRepositoryPolicy", "ecr:DescribeImages",
          "ecr:DescribeRepositories", "ecr:GetDownloadUrlForLayer", "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy",
          "ecr:InitiateLayerUpload", "ecr:ListImages", "ecr:ListTagsForResource", "ecr:PutImage",
          "ecr:PutImageScanningConfiguration", "ecr:PutImageTagMutability", "ecr:PutLifecyclePolicy",
          "ecr:SetRepositoryPolicy", "ecr:TagResource", "ecr:UntagResource", "ecr:UploadLayerPart",
        ]
        Resource = [for name in sort(distinct(var.repository_names)) : "arn:${local.p}:ecr:${local.region}:${local.account}:repository/${name}"]
      },
      {
        Sid    = "DescribeNetwork"
        Effect = "Allow"
        Action = [
          "ec2:DescribeAccountAttributes", "ec2:DescribeLaunchTemplateVersions", "ec2:DescribeLaunchTemplates",
          "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroupRules", "ec2:DescribeSecurityGroups",
          "ec2:DescribeSubnets", "ec2:DescribeVpcs",
        ]
        Resource = ["*"]
      },
      {
        Sid    = "ManageSecurityGroupsAndLaunchTemplates"
        Effect = "Allow"
        Action = [
          "ec2:AuthorizeSecurityGroupEgress", "ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion",
          "ec2:CreateSecurityGroup", "ec2:CreateTags", "ec2:DeleteLaunchTemplate", "ec2:DeleteSecurityGroup",
          "ec2:DeleteTags", "ec2:ModifyLaunchTemplate", "ec2:RevokeSecurityGroupEgress",
        ]
        Resource = [
          "${local.ec2}:security-group/*", "${local.ec2}:security-group-rule/*", "${local.ec2}:vpc/*",
          "${local.ec2}:launch-template/*",
        ]
      },
      {
        Sid      = "DescribeLogGroups"
        Effect   = "Allow"
        Action   = ["logs:DescribeLogGroups"]
        Resource = ["arn:${local.p}:logs:${local.region}:${local.account}:log-group:*"]
      },
      {
        Sid    = "ManageAndReadJobLogs"
        Effect = "Allow"
        Action = [
          "logs:AssociateKmsKey", "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:DeleteRetentionPolicy",
          "logs:DisassociateKmsKey", "logs:FilterLogEvents", "logs:GetLogEvents", "logs:ListTagsForResource",
          "logs:ListTagsLogGroup", "logs:PutRetentionPolicy", "logs:TagLogGroup", "logs:TagResource",
          "logs:UntagLogGroup", "logs:UntagResource",
        ]
        Resource = ["${local.log_groups}*"]
      },
      {
        Sid    = "StateBucket"
        Effect = "Allow"
        Action = [
          "s3:CreateBucket", "s3:GetBucketVersioning", "s3:GetEncryptionConfiguration", "s3:ListBucket",
          "s3:PutBucketPublicAccessBlock", "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration",
        ]
        Resource = ["arn:${local.p}:s3:::${local.state_bucket}"]
      },
      {
        Sid      = "StateObjectsAndLocks"
        Effect   = "Allow"
        Action   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
        Resource = ["arn:${local.p}:s3:::${local.state_bucket}/batchform/*"]
      },
      {
        Sid    = "ManageDataBucket"
        Effect = "Allow"
        Action = [
          "s3:CreateBucket", "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:GetAccelerateConfiguration",
          "s3:GetBucketAcl", "s3:GetBucketCORS", "s3:GetBucketLocation", "s3:GetBucketLogging",
          "s3:GetBucketObjectLockConfiguration", "s3:GetBucketOwnershipControls", "s3:GetBucketPolicy",
          "s3:GetBucketPublicAccessBlock", "s3:GetBucketRequestPayment", "s3:GetBucketTagging",
          "s3:GetBucketVersioning", "s3:GetBucketWebsite", "s3:GetEncryptionConfiguration",
          "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration", "s3:ListBucket",
          "s3:ListBucketVersions", "s3:PutBucketOwnershipControls", "s3:PutBucketPolicy",
          "s3:PutBucketPublicAccessBlock", "s3:PutBucketTagging", "s3:PutBucketVersioning",
          "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration",
        ]
        Resource = ["arn:${local.p}:s3:::${local.data_bucket}"]
      },
      # The account's tables (batchform-<account>-<key>): what the provider calls to create, read,
      # update (tags, TTL, point-in-time recovery, deletion protection, encryption) and delete one.
      {
        Sid    = "ManageTables"
        Effect = "Allow"
        Action = [
          "dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable",
          "dynamodb:DescribeTimeToLive", "dynamodb:ListTagsOfResource", "dynamodb:TagResource", "dynamodb:UntagResource",
          "dynamodb:UpdateContinuousBackups", "dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive",
        ]
        Resource = ["${local.tables}*"]
      },
      # Schedules (batch-job-schedules): the account's schedules and their dead-letter queue.
      {
        Sid      = "ManageSchedules"
        Effect   = "Allow"
        Action   = ["scheduler:CreateSchedule", "scheduler:DeleteSchedule", "scheduler:GetSchedule", "scheduler:UpdateSchedule"]
        Resource = ["arn:${local.p}:scheduler:${local.region}:${local.account}:schedule/default/${local.name}-*"]
      },
      {
        Sid    = "ManageDeadLetterQueue"
        Effect = "Allow"
        Action = [
          "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags",
          "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:UntagQueue",
        ]
        Resource = ["arn:${local.p}:sqs:${local.region}:${local.account}:${local.name}-*"]
      },
      # Notifications (batch-job-notifications): the rule, the topic and its subscriptions, the key.
      {
        Sid    = "ManageNotificationRule"
        Effect = "Allow"
        Action = [
          "events:DeleteRule", "events:DescribeRule", "events:ListTagsForResource", "events:ListTargetsByRule",
          "events:PutRule", "events:PutTargets", "events:RemoveTargets", "events:TagResource", "events:UntagResource",
        ]
        Resource = ["arn:${local.p}:events:${local.region}:${local.account}:rule/${local.name}-*"]
      },
      {
        Sid    = "ManageNotificationTopic"
        Effect = "Allow"
        Action = [
          "sns:CreateTopic", "sns:DeleteTopic", "sns:GetSubscriptionAttributes", "sns:GetTopicAttributes",
          "sns:ListSubscriptionsByTopic", "sns:ListTagsForResource", "sns:SetSubscriptionAttributes",
          "sns:SetTopicAttributes", "sns:Subscribe", "sns:TagResource", "sns:Unsubscribe", "sns:UntagResource",
        ]
        Resource = ["arn:${local.p}:sns:${local.region}:${local.account}:${local.name}-*"]
      },
      # A key's id is not known before it is made: keys are created, and then managed, by the
      # account's tag, which the provider's default tags put on every resource.
      {
        Sid       = "CreateNotificationKey"
        Effect    = "Allow"
        Action    = ["kms:CreateKey", "kms:TagResource"]
        Resource  = ["*"]
        Condition = { StringEquals = { "aws:RequestTag/batchform:account" = var.account_name } }
      },
      {
        Sid    = "ManageNotificationKey"
        Effect = "Allow"
        Action = [
          "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
          "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion",
          "kms:UntagResource",
        ]
        Resource  = ["arn:${local.p}:kms:${local.region}:${local.account}:key/*"]
        Condition = { StringEquals = { "aws:ResourceTag/batchform:account" = var.account_name } }
      },
      {
        Sid      = "NotificationKeyAlias"
        Effect   = "Allow"
        Action   = ["kms:CreateAlias", "kms:DeleteAlias"]
        Resource = ["arn:${local.p}:kms:${local.region}:${local.account}:alias/${local.name}-*"]
      },
      {
        Sid      = "ListKeyAliases"
        Effect   = "Allow"
        Action   = ["kms:ListAliases"]
        Resource = ["*"]
      },
      # submit writes the fan-out items that do not fit in a job's overrides.
      {
        Sid      = "WriteFanOutItems"
        Effect   = "Allow"
        Action   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
        Resource = ["arn:${local.p}:s3:::${local.data_bucket}/fan-out/*"]
      },
    ],
    length(var.kms_key_arns) == 0 ? [] : [
      {
        Sid      = "UseAccountKeys"
        Effect   = "Allow"
        Action   = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
        Resource = sort(distinct(var.kms_key_arns))
      },
    ],
  )

  # The deployer's statements whose reading actions a plan needs as they are.
  read_for_plan = ["ManageSchedules", "ManageDeadLetterQueue", "ManageNotificationRule", "ManageNotificationTopic", "ManageNotificationKey", "ListKeyAliases"]

  # What `tf.plan` reads, and nothing it would change: the plan-only role of pull requests, whose
  # code is not reviewed yet. Configuration only: no job data (objects, items, log lines) and no
  # image layers. Every action here is one the deployer has too (tests/deployer_policy.tftest.hcl).
  plan_statements = concat(
    [
      {
        Sid    = "ReadBatchformRoles"
        Effect = "Allow"
        Action = [
          "iam:GetInstanceProfile", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
          "iam:ListInstanceProfilesForRole", "iam:ListRolePolicies",
        ]
        Resource = [
          "arn:${local.p}:iam::${local.account}:role/${local.iam_prefix}*",
          "arn:${local.p}:iam::${local.account}:instance-profile/${local.iam_prefix}*",
        ]
      },
      {
        Sid    = "DescribeBatchResources"
        Effect = "Allow"
        Action = [
          "batch:DescribeComputeEnvironments", "batch:DescribeJobDefinitions", "batch:DescribeJobQueues",
          "batch:DescribeSchedulingPolicies",
        ]
        Resource = ["*"]
      },
      {
        Sid    = "ReadBatchformBatchTags"
        Effect = "Allow"
        Action = ["batch:ListTagsForResource"]
        Resource = [
          "${local.batch}:compute-environment/${local.name}-*",
          "${local.batch}:job-queue/${local.name}-*",
          "${local.batch}:job-definition/${local.name}-*",
          "${local.batch}:scheduling-policy/${local.name}-*",
        ]
      },
      {
        Sid      = "ReadRepositories"
        Effect   = "Allow"
        Action   = ["ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy", "ecr:ListTagsForResource"]
        Resource = [for name in sort(distinct(var.repository_names)) : "arn:${local.p}:ecr:${local.region}:${local.account}:repository/${name}"]
      },
      {
        Sid    = "DescribeNetworkForPlan"
        Effect = "Allow"
        Action = [
          "ec2:DescribeAccountAttributes", "ec2:DescribeLaunchTemplateVersions", "ec2:DescribeLaunchTemplates",
          "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroupRules", "ec2:DescribeSecurityGroups",
          "ec2:DescribeSubnets", "ec2:DescribeVpcs",
        ]
        Resource = ["*"]
      },
      {
        Sid      = "DescribeLogGroupsForPlan"
        Effect   = "Allow"
        Action   = ["logs:DescribeLogGroups"]
        Resource = ["arn:${local.p}:logs:${local.region}:${local.account}:log-group:*"]
      },
      {
        Sid      = "ReadLogGroupTags"
        Effect   = "Allow"
        Action   = ["logs:ListTagsForResource", "logs:ListTagsLogGroup"]
        Resource = ["${local.log_groups}*"]
      },
      {
        Sid      = "ReadStateBucket"
        Effect   = "Allow"
        Action   = ["s3:GetBucketVersioning", "s3:GetEncryptionConfiguration", "s3:ListBucket"]
        Resource = ["arn:${local.p}:s3:::${local.state_bucket}"]
      },
      {
        Sid      = "ReadState"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["arn:${local.p}:s3:::${local.state_bucket}/batchform/*"]
      },
      # A plan holds the state's lock while it reads (S3 lock files): its one write.
      {
        Sid      = "HoldStateLock"
        Effect   = "Allow"
        Action   = ["s3:DeleteObject", "s3:PutObject"]
        Resource = ["arn:${local.p}:s3:::${local.state_bucket}/batchform/*.tflock"]
      },
      {
        Sid    = "ReadDataBucketSettings"
        Effect = "Allow"
        Action = [
          "s3:GetAccelerateConfiguration", "s3:GetBucketAcl", "s3:GetBucketCORS", "s3:GetBucketLocation",
          "s3:GetBucketLogging", "s3:GetBucketObjectLockConfiguration", "s3:GetBucketOwnershipControls",
          "s3:GetBucketPolicy", "s3:GetBucketPublicAccessBlock", "s3:GetBucketRequestPayment", "s3:GetBucketTagging",
          "s3:GetBucketVersioning", "s3:GetBucketWebsite", "s3:GetEncryptionConfiguration",
          "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration", "s3:ListBucket",
        ]
        Resource = ["arn:${local.p}:s3:::${local.data_bucket}"]
      },
      {
        Sid    = "DescribeTables"
        Effect = "Allow"
        Action = [
          "dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive",
          "dynamodb:ListTagsOfResource",
        ]
        Resource = ["${local.tables}*"]
      },
    ],
    # The schedules' and notifications' resources, read where the deployer manages them: its
    # statements' reading actions, on the same resources and conditions.
    [
      for s in local.statements : merge(s, {
        Sid    = "Read${trimprefix(trimprefix(s.Sid, "Manage"), "List")}"
        Action = [for action in s.Action : action if can(regex("^[a-z0-9]+:(Describe|Get|List)[A-Za-z]+$", action))]
      }) if contains(local.read_for_plan, s.Sid)
    ],
    # Reading the account's encrypted state and resources, and writing the lock file under a state key.
    length(var.kms_key_arns) == 0 ? [] : [
      {
        Sid      = "UseAccountKeysForPlan"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
        Resource = sort(distinct(var.kms_key_arns))
      },
    ],
  )
}
