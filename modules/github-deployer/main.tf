locals {
  issuer   = "token.actions.githubusercontent.com"
  audience = "sts.amazonaws.com"
  repo     = "repo:${var.github_repository}"

  # The `sub` claims GitHub puts in a job's token: a job without an environment names its branch,
  # a job in an environment names that environment, and a pull request's job says only that.
  deploy_subjects = concat(
    [for branch in var.deploy_branches : "${local.repo}:ref:refs/heads/${branch}"],
    [for environment in var.deploy_environments : "${local.repo}:environment:${environment}"],
  )
  plan_subjects = var.plan_pull_requests ? ["${local.repo}:pull_request"] : []

  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn

  # Exact subjects only (StringEquals): StringLike with a wildcard would let any branch or environment in.
  trust = { for role, subjects in { deploy = local.deploy_subjects, plan = local.plan_subjects } : role => jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "GitHubActions"
      Effect    = "Allow"
      Principal = { Federated = local.provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = { "${local.issuer}:aud" = local.audience, "${local.issuer}:sub" = subjects }
      }
    }]
  }) }
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://${local.issuer}"
  client_id_list = [local.audience]
  tags           = var.tags
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 0 : 1

  url = "https://${local.issuer}"
}

resource "aws_iam_role" "deploy" {
  name                 = var.deploy_role_name
  description          = "batchform's deployer, for the GitHub Actions of ${var.github_repository}"
  assume_role_policy   = local.trust.deploy
  max_session_duration = var.max_session_duration
  tags                 = var.tags

  lifecycle {
    precondition {
      condition     = length(local.deploy_subjects) > 0
      error_message = "Name at least one of deploy_branches and deploy_environments: a role nothing may assume deploys nothing."
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "batchform-deployer"
  role   = aws_iam_role.deploy.id
  policy = var.deploy_policy_json
}

resource "aws_iam_role" "plan" {
  count = var.plan_pull_requests ? 1 : 0

  name                 = var.plan_role_name
  description          = "batchform's plan-only role for pull requests of ${var.github_repository}"
  assume_role_policy   = local.trust.plan
  max_session_duration = var.max_session_duration
  tags                 = var.tags

  lifecycle {
    precondition {
      condition     = var.plan_policy_json != null
      error_message = "plan_pull_requests needs plan_policy_json (deployer-policy's plan_policy_json)."
    }
  }
}

resource "aws_iam_role_policy" "plan" {
  count = var.plan_pull_requests ? 1 : 0

  name   = "batchform-plan"
  role   = aws_iam_role.plan[0].id
  policy = coalesce(var.plan_policy_json, "{}")
}
