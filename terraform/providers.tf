# Every AWS endpoint can be redirected (var.aws_endpoint_url): that is how the local account
# reaches the emulator. Nothing else in this configuration or its modules knows about it.
locals {
  custom_endpoint = var.aws_endpoint_url != null
  endpoint_services = [
    "batch", "dynamodb", "ec2", "ecr", "events", "iam", "kms", "logs", "s3", "scheduler", "secretsmanager",
    "sns", "sqs", "ssm", "sts",
  ]
}

provider "aws" {
  region = var.region

  # Refuse to touch any other account than the one these variables describe, whatever the
  # credentials or the role resolve to.
  allowed_account_ids = [var.account_id]

  # The provider assumes the account's role itself, from the base credentials in its
  # environment, and renews the session before it expires: credentials assumed for it
  # beforehand would end in ExpiredToken on an apply longer than the session (1 h by default).
  dynamic "assume_role" {
    for_each = var.assume_role_arn == null ? [] : [var.assume_role_arn]
    content {
      role_arn     = assume_role.value
      session_name = "batchform"
    }
  }

  s3_use_path_style           = local.custom_endpoint
  skip_credentials_validation = local.custom_endpoint
  skip_metadata_api_check     = local.custom_endpoint

  dynamic "endpoints" {
    for_each = local.custom_endpoint ? [var.aws_endpoint_url] : []
    content {
      batch          = endpoints.value
      dynamodb       = endpoints.value
      ec2            = endpoints.value
      ecr            = endpoints.value
      events         = endpoints.value
      iam            = endpoints.value
      kms            = endpoints.value
      logs           = endpoints.value
      s3             = endpoints.value
      scheduler      = endpoints.value
      secretsmanager = endpoints.value
      sns            = endpoints.value
      sqs            = endpoints.value
      ssm            = endpoints.value
      sts            = endpoints.value
    }
  }

  default_tags {
    tags = merge(var.tags, {
      "batchform:account" = var.account_name
      "managed-by"        = "batchform"
    })
  }
}
