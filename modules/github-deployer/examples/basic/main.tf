# The one-time setup of an account for CI: its GitHub OIDC provider, the role main's workflow and the
# protected environments deploy with, and the plan-only role of pull requests, each with the permissions
# deployer-policy writes down. Applied once per account by an administrator (the README's "Running
# batchform in CI" gives the commands); its outputs go under `accounts.<name>.ci` in batchform.yaml.

variable "account_name" {
  description = "The account's name in batchform.yaml."
  type        = string
}

variable "account_id" {
  description = "The account's 12-digit id (terraform refuses any other account)."
  type        = string
}

variable "region" {
  description = "The account's region."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the repository whose workflows deploy."
  type        = string
}

variable "repository_names" {
  description = "The images the account declares (its ECR repositories)."
  type        = list(string)
}

variable "deploy_environments" {
  description = "GitHub environments whose jobs may deploy: the account's own, and those of the accounts it promotes to."
  type        = list(string)
  default     = []
}

variable "create_oidc_provider" {
  description = "false when the account has GitHub's OIDC provider already."
  type        = bool
  default     = true
}

provider "aws" {
  region              = var.region
  allowed_account_ids = [var.account_id]
}

module "permissions" {
  source = "../../../deployer-policy"

  account_name     = var.account_name
  account_id       = var.account_id
  region           = var.region
  repository_names = var.repository_names
}

module "github" {
  source = "../.."

  github_repository    = var.github_repository
  deploy_environments  = var.deploy_environments
  create_oidc_provider = var.create_oidc_provider
  deploy_policy_json   = module.permissions.policy_json
  plan_policy_json     = module.permissions.plan_policy_json
  tags                 = { "batchform:account" = var.account_name }
}

output "ci" {
  description = "What batchform.yaml's accounts.<name>.ci says."
  value = {
    deploy_role_arn = module.github.deploy_role_arn
    plan_role_arn   = module.github.plan_role_arn
  }
}
