# Minimal use of the ecr-repository module: an immutable repository that another
# account (for example a CI or staging account) may pull from.

provider "aws" {
  region = "us-east-1"
}

module "repository" {
  source = "../.."

  name                 = "batchform/example-worker"
  keep_builds          = 10
  untagged_expiry_days = 1
  pull_account_ids     = ["111111111111"]
  force_delete         = true # example only: lets `terraform destroy` remove pushed images

  tags = {
    Project = "batchform"
    Example = "ecr-repository"
  }
}

output "repository_url" {
  description = "Push builds as <repository_url>:<build number>."
  value       = module.repository.repository_url
}

output "repository_arn" {
  description = "ARN of the repository."
  value       = module.repository.repository_arn
}
