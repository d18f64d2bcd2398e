locals {
  # arn:<partition>, the account and the region, from the queues (all of one account and region).
  queue_arn_parts = split(":", var.job_queue_arns[0])
  partition       = local.queue_arn_parts[1]
  region          = local.queue_arn_parts[3]
  account_id      = local.queue_arn_parts[4]

  kms_key_arn = var.kms_key_arn == null ? aws_kms_key.this[0].arn : var.kms_key_arn

  event_pattern = {
    source        = ["aws.batch"]
    "detail-type" = ["Batch Job State Change"]
    detail = {
      jobQueue = sort(distinct(var.job_queue_arns))
      status   = var.statuses
    }
  }

  # What the message takes from the event (a job stopped before its container ran has no exit
  # code to give).
  input_paths = {
    job         = "$.detail.jobName"
    id          = "$.detail.jobId"
    status      = "$.detail.status"
    reason      = "$.detail.statusReason"
    exit_code   = "$.detail.container.exitCode"
    aws_account = "$.account"
    queue       = "$.detail.jobQueue"
    time        = "$.time"
  }
  message_lines = [
    "batchform job <job> (<id>) <status> at <time>",
    "Account: ${var.account_name} (AWS account <aws_account>)",
    "Queue: <queue>",
    "Exit code: <exit_code>",
    "Reason: <reason>",
    "Logs: invoke jobs.logs <id> --account ${var.account_name}",
  ]
  # A JSON string (quoted, lines joined by \n): SNS delivers it as the message's text.
  input_template = "\"${join("\\n", local.message_lines)}\""

  subscriptions = merge([
    for protocol in ["email", "https", "sqs"] : {
      for endpoint in var.subscribers[protocol] : "${protocol}:${endpoint}" => { protocol = protocol, endpoint = endpoint }
    }
  ]...)

  # The account administers the key through IAM (its root principal stands for its IAM policies),
  # and EventBridge may encrypt what it publishes to the topic. In a key policy, `*` is this key.
  key_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersTheKey"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action = [
          "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:Decrypt", "kms:DeleteAlias",
          "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation",
          "kms:Encrypt", "kms:GenerateDataKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListGrants",
          "kms:ListKeyPolicies", "kms:ListKeyRotations", "kms:ListResourceTags", "kms:PutKeyPolicy",
          "kms:RetireGrant", "kms:RevokeGrant", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion",
          "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
        ]
        Resource = "*"
      },
      {
        Sid       = "EventBridgePublishesToTheTopic"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
      },
    ]
  }
}

################################################################################
# The key: EventBridge cannot publish to a topic encrypted with alias/aws/sns
################################################################################

resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description         = "Encrypts the ${var.name} SNS topic, which EventBridge publishes to"
  enable_key_rotation = true
  policy              = jsonencode(local.key_policy)

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this[0].key_id
}

################################################################################
# The topic, published to by the rule only
################################################################################

resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = local.kms_key_arn

  tags = var.tags
}

resource "aws_sns_topic_policy" "this" {
  arn = aws_sns_topic.this.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EventBridgeRulePublishes"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = ["sns:Publish"]
      Resource  = [aws_sns_topic.this.arn]
      Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.this.arn } }
    }]
  })
}

resource "aws_sns_topic_subscription" "this" {
  for_each = local.subscriptions

  topic_arn = aws_sns_topic.this.arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

################################################################################
# The rule: each state change of the queues' jobs in the statuses, as a message
################################################################################

resource "aws_cloudwatch_event_rule" "this" {
  name          = var.name
  description   = "Batch jobs of ${var.account_name}'s queues that reach ${join(" or ", var.statuses)}"
  event_pattern = jsonencode(local.event_pattern)
  state         = "ENABLED"

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "this" {
  rule      = aws_cloudwatch_event_rule.this.name
  target_id = "sns"
  arn       = aws_sns_topic.this.arn

  input_transformer {
    input_paths    = local.input_paths
    input_template = local.input_template
  }

  # Published before the topic lets the rule in, the first events would be refused.
  depends_on = [aws_sns_topic_policy.this]
}
