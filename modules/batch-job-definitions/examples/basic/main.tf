# Two job definitions whose images come from an ECR repository and are pinned to build numbers.
# Changing `hello_build` registers exactly one new revision of the `hello` job definition
# and changes nothing else.

provider "aws" {
  region = var.region
}

variable "region" {
  description = "Region to deploy the example in."
  type        = string
  default     = "us-east-1"
}

variable "hello_build" {
  description = "Build number (image tag) of the hello job's image."
  type        = number
  default     = 1
}

variable "crunch_build" {
  description = "Build number (image tag) of the crunch job's image."
  type        = number
  default     = 1
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  region = var.region
  # Create this SecureString parameter before running the jobs.
  api_token_parameter_arn = "arn:${data.aws_partition.current.partition}:ssm:${local.region}:${data.aws_caller_identity.current.account_id}:parameter/batchform/example/api-token"
}

module "repository" {
  source = "../../../ecr-repository"

  name         = "batchform/example-jobs"
  force_delete = true # example only
}

module "log_groups" {
  source = "../../../log-groups"

  names             = ["/batchform/example/jobs"]
  retention_in_days = 7
}

module "job_definitions" {
  source = "../.."

  name_prefix     = "batchform-example-"
  region          = local.region
  repository_arns = [module.repository.repository_arn]

  jobs = {
    hello = {
      image          = "${module.repository.repository_url}:${var.hello_build}"
      command        = ["python3", "-m", "worker", "hello", "Ref::who"]
      vcpus          = 0.25
      memory         = 512
      log_group_name = module.log_groups.names["/batchform/example/jobs"]
      parameters     = { who = "world" }
      environment    = { LOG_LEVEL = "INFO", GREETING = "hello" }
      secrets        = { API_TOKEN = local.api_token_parameter_arn }
      retry_attempts = 3
      evaluate_on_exit = [
        { action = "RETRY", on_status_reason = "Host EC2*" },
        { action = "EXIT", on_exit_code = "*" },
      ]
      timeout_seconds = 600
    }
    crunch = {
      image          = "${module.repository.repository_url}:${var.crunch_build}"
      command        = ["python3", "-m", "worker", "crunch"]
      platform       = "EC2"
      vcpus          = 2
      memory         = 4096
      log_group_name = module.log_groups.names["/batchform/example/jobs"]
      job_role_policy_statements = [
        {
          sid       = "ReadInputs"
          actions   = ["s3:GetObject"]
          resources = ["arn:${data.aws_partition.current.partition}:s3:::batchform-example-inputs/*"]
        },
      ]
      tags = { Workload = "crunch" }
    }
  }

  tags = {
    Project = "batchform"
    Example = "batch-job-definitions"
  }
}

output "job_definition_arns" {
  description = "Job definition ARNs with revision."
  value       = module.job_definitions.arns
}

output "job_definition_arn_prefixes" {
  description = "Job definition ARNs without revision (follow the latest revision)."
  value       = module.job_definitions.arn_prefixes
}

output "revisions" {
  description = "Current revision of each job definition."
  value       = module.job_definitions.revisions
}
