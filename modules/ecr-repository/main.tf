data "aws_partition" "current" {}

locals {
  encryption_type = var.kms_key_arn == null ? "AES256" : "KMS"

  # "Keep the last N builds" counts every numeric build, so a build still deployed would expire
  # once N newer ones are pushed. ECR evaluates rules by priority, and "an image that matches
  # the tagging requirements of a rule cannot be expired by a rule with a lower priority"
  # (Amazon ECR User Guide, "Lifecycle policy evaluation rules",
  # https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html). So each
  # protected tag gets a rule of its own, ahead of the others, matching exactly that tag: tags
  # are immutable, one image holds it, and "more than 1" is a count it can never exceed.
  protected_rules = [
    for i, tag in var.protected_tags : {
      rulePriority = i + 1
      description  = "Never expire ${tag}, which the account runs"
      selection = {
        tagStatus      = "tagged"
        tagPatternList = [tag]
        countType      = "imageCountMoreThan"
        countNumber    = 1
      }
      action = { type = "expire" }
    }
  ]
  first = length(var.protected_tags)

  lifecycle_policy = {
    rules = concat(local.protected_rules, [
      {
        rulePriority = local.first + 1
        description  = "Expire untagged images after ${var.untagged_expiry_days} day(s)"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_expiry_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = local.first + 2
        description  = "Keep the last ${var.keep_builds} numeric builds"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
          countType     = "imageCountMoreThan"
          countNumber   = var.keep_builds
        }
        action = { type = "expire" }
      },
    ])
  }
}

resource "aws_ecr_repository" "this" {
  #checkov:skip=CKV_AWS_136:KMS CMK is optional by design (kms_key_arn); the default is AES256 encryption at rest.
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = var.scan_on_push
  }

  encryption_configuration {
    encryption_type = local.encryption_type
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy     = jsonencode(local.lifecycle_policy)
}

resource "aws_ecr_repository_policy" "this" {
  count = length(var.pull_account_ids) > 0 ? 1 : 0

  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "CrossAccountPull"
        Effect    = "Allow"
        Principal = { AWS = [for id in sort(distinct(var.pull_account_ids)) : "arn:${data.aws_partition.current.partition}:iam::${id}:root"] }
        Action = [
          "ecr:BatchCheckLayerAvailability",
          "ecr:BatchGetImage",
          "ecr:GetDownloadUrlForLayer",
        ]
      },
    ]
  })
}
