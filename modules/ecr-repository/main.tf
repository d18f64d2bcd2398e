data "aws_partition" "current" {}

locals {
  encryption_type = var.kms_key_arn == null ? "AES256" : "KMS"

  lifecycle_policy = {
    rules = [
      {
        rulePriority = 1
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
        rulePriority = 2
        description  = "Keep the last ${var.keep_builds} numeric builds"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
          countType     = "imageCountMoreThan"
          countNumber   = var.keep_builds
        }
        action = { type = "expire" }
      },
    ]
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
