# The batch-environment module with one environment of each kind, in the default VPC.
# Real deployments should pass private subnets with a NAT gateway or VPC endpoints.

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
  source = "../.."

  name       = "batchform-example"
  vpc_id     = data.aws_vpc.default.id
  subnet_ids = slice(sort(data.aws_subnets.default.ids), 0, min(2, length(data.aws_subnets.default.ids)))

  compute_environments = {
    fargate = {
      type      = "FARGATE"
      max_vcpus = 16
    }
    fargate_spot = {
      type      = "FARGATE_SPOT"
      max_vcpus = 16
    }
    ec2 = {
      type                = "EC2"
      max_vcpus           = 32
      instance_types      = ["m6i.large", "c6i.xlarge"]
      allocation_strategy = "BEST_FIT_PROGRESSIVE"
      root_volume_size    = 50
    }
    spot = {
      type                = "SPOT"
      max_vcpus           = 32
      allocation_strategy = "SPOT_PRICE_CAPACITY_OPTIMIZED"
      bid_percentage      = 60
    }
  }

  tags = {
    Project = "batchform"
    Example = "batch-environment"
  }
}

output "compute_environment_arns" {
  description = "Map of key to compute environment ARN."
  value       = module.environment.compute_environment_arns
}

output "security_group_id" {
  description = "Security group of the environments."
  value       = module.environment.security_group_id
}
