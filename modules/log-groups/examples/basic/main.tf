# Minimal use of the log-groups module: one group per batch workload.

provider "aws" {
  region = "us-east-1"
}

module "log_groups" {
  source = "../.."

  names             = ["/batchform/example/hello", "/batchform/example/crunch"]
  retention_in_days = 14

  tags = {
    Project = "batchform"
    Example = "log-groups"
  }
}

output "log_group_arns" {
  description = "Map of log group name to ARN."
  value       = module.log_groups.arns
}
