# Tests of the github-deployer module, against a mocked AWS provider (no credentials, nothing created).

mock_provider "aws" {
  override_resource {
    target = aws_iam_openid_connect_provider.github
    values = { arn = "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com" }
  }

  mock_data "aws_iam_openid_connect_provider" {
    defaults = { arn = "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com" }
  }
}

variables {
  github_repository   = "acme/batchform"
  deploy_environments = ["dev", "prod"]
  deploy_policy_json  = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"batch:SubmitJob\"],\"Resource\":[\"arn:aws:batch:eu-west-1:111111111111:job/*\"]}]}"
  plan_policy_json    = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"batch:DescribeJobQueues\"],\"Resource\":[\"*\"]}]}"
}

run "the_deploy_role_trusts_the_branches_and_environments_named_and_nothing_else" {
  command = apply

  assert {
    condition = jsondecode(aws_iam_role.deploy.assume_role_policy).Statement == [{
      Sid       = "GitHubActions"
      Effect    = "Allow"
      Principal = { Federated = "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com" }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "token.actions.githubusercontent.com:aud" = "sts.amazonaws.com"
          "token.actions.githubusercontent.com:sub" = [
            "repo:acme/batchform:ref:refs/heads/main",
            "repo:acme/batchform:environment:dev",
            "repo:acme/batchform:environment:prod",
          ]
        }
      }
    }]
    error_message = "The deploy role must trust GitHub's tokens for sts.amazonaws.com whose sub is main or one of the environments, exactly."
  }

  assert {
    condition     = aws_iam_role_policy.deploy.policy == var.deploy_policy_json && aws_iam_role.deploy.name == "github-actions-batchform-deploy"
    error_message = "The deploy role must carry the deployer's policy."
  }

  assert {
    condition     = aws_iam_openid_connect_provider.github[0].url == "https://token.actions.githubusercontent.com" && aws_iam_openid_connect_provider.github[0].client_id_list == toset(["sts.amazonaws.com"])
    error_message = "The OIDC provider must be GitHub's, for the audience sts.amazonaws.com."
  }
}

run "pull_requests_get_the_plan_only_role_and_only_it" {
  command = apply

  assert {
    condition     = jsondecode(aws_iam_role.plan[0].assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == ["repo:acme/batchform:pull_request"]
    error_message = "The plan-only role must trust pull requests' tokens, and nothing else."
  }

  assert {
    condition     = !contains(jsondecode(aws_iam_role.deploy.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"], "repo:acme/batchform:pull_request")
    error_message = "Pull requests may not assume the deploy role: their code is not reviewed yet."
  }

  assert {
    condition     = aws_iam_role_policy.plan[0].policy == var.plan_policy_json && jsonencode(output.plan_subjects) == jsonencode(["repo:acme/batchform:pull_request"])
    error_message = "The plan-only role must carry the plan-only policy."
  }
}

run "an_account_with_githubs_provider_already_uses_it_and_without_pull_requests_has_no_plan_role" {
  command = apply

  variables {
    create_oidc_provider = false
    plan_pull_requests   = false
    plan_policy_json     = null
    deploy_branches      = []
  }

  assert {
    condition     = length(aws_iam_openid_connect_provider.github) == 0 && output.oidc_provider_arn == "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"
    error_message = "With create_oidc_provider = false the account's provider is found, not created."
  }

  assert {
    condition     = length(aws_iam_role.plan) == 0 && output.plan_role_arn == null
    error_message = "Without plan_pull_requests there is no plan-only role."
  }

  assert {
    condition     = jsonencode(output.deploy_subjects) == jsonencode(["repo:acme/batchform:environment:dev", "repo:acme/batchform:environment:prod"])
    error_message = "Without branches, only the environments may deploy."
  }
}

run "a_role_nothing_may_assume_is_refused" {
  command = plan

  variables {
    deploy_branches     = []
    deploy_environments = []
  }

  expect_failures = [aws_iam_role.deploy]
}

run "the_plan_only_role_needs_its_policy" {
  command = plan

  variables {
    plan_policy_json = null
  }

  expect_failures = [aws_iam_role.plan]
}

run "rejects_a_repository_that_is_not_owner_slash_name" {
  command = plan

  variables {
    github_repository = "acme"
  }

  expect_failures = [var.github_repository]
}

run "rejects_a_repository_owner_github_would_refuse" {
  command = plan

  variables {
    github_repository = "-acme/batchform"
  }

  expect_failures = [var.github_repository]
}

run "rejects_a_repository_named_dot_dot" {
  command = plan

  variables {
    github_repository = "acme/.."
  }

  expect_failures = [var.github_repository]
}

run "rejects_a_branch_wildcard" {
  command = plan

  variables {
    deploy_branches = ["release/*"]
  }

  expect_failures = [var.deploy_branches]
}

run "rejects_a_branch_name_git_refuses" {
  command = plan

  variables {
    deploy_branches = ["main..dev"]
  }

  expect_failures = [var.deploy_branches]
}

run "rejects_an_environment_with_a_colon" {
  command = plan

  variables {
    deploy_environments = ["prod:eu"]
  }

  expect_failures = [var.deploy_environments]
}

run "rejects_a_role_name_over_64_characters" {
  command = plan

  variables {
    deploy_role_name = "github-actions-batchform-deploy-with-a-name-much-longer-than-iam-allows"
  }

  expect_failures = [var.deploy_role_name]
}

run "rejects_a_role_the_deployer_itself_could_rewrite" {
  command = plan

  variables {
    plan_role_name = "batchform-dev-github"
  }

  expect_failures = [var.plan_role_name]
}

run "rejects_a_policy_with_a_wildcard_action" {
  command = plan

  variables {
    deploy_policy_json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}"
  }

  expect_failures = [var.deploy_policy_json]
}

run "rejects_a_policy_granting_everything_but" {
  command = plan

  variables {
    plan_policy_json = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"NotAction\":[\"iam:CreateUser\"],\"Resource\":\"*\"}}"
  }

  expect_failures = [var.plan_policy_json]
}

run "rejects_a_policy_that_is_not_json" {
  command = plan

  variables {
    deploy_policy_json = "batchform-deployer"
  }

  expect_failures = [var.deploy_policy_json]
}

run "rejects_a_session_longer_than_iam_allows" {
  command = plan

  variables {
    max_session_duration = 86400
  }

  expect_failures = [var.max_session_duration]
}
