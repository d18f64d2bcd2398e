# A fair-share job queue in front of a Fargate and a Fargate Spot compute environment
# (created with the sibling batch-environment module in the default VPC).

provider "aws" {
  region = "us-east-1"
}

data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }
}

module "environment" {
  source = "../../../batch-environment"

  name       = "batchform-queue-example"
  vpc_id     = data.aws_vpc.default.id
  subnet_ids = slice(sort(data.aws_subnets.default.ids), 0, min(2, length(data.aws_subnets.default.ids)))

  compute_environments = {
    spot     = { type = "FARGATE_SPOT", max_vcpus = 16 }
    ondemand = { type = "FARGATE", max_vcpus = 8 }
  }
}

module "queue" {
  source = "../.."

  name     = "batchform-example"
  priority = 10

  # Spot first, on-demand when Spot capacity is short.
  compute_environment_arns = [
    module.environment.compute_environment_arns["spot"],
    module.environment.compute_environment_arns["ondemand"],
  ]

  fair_share_policy = {
    compute_reservation = 10
    share_decay_seconds = 3600
    share_distribution = [
      { share_identifier = "nightly", weight_factor = 1 },
      { share_identifier = "adhoc", weight_factor = 0.5 },
    ]
  }

  tags = {
    Project = "batchform"
    Example = "batch-job-queue"
  }
}

output "job_queue_arn" {
  description = "Submit jobs to this queue."
  value       = module.queue.arn
}

output "scheduling_policy_arn" {
  description = "The fair-share scheduling policy."
  value       = module.queue.scheduling_policy_arn
}
