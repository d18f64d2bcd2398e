# Minimal use of the dynamodb-table module: an encrypted, on-demand table keyed by a string id,
# whose items expire by their expires_at attribute.

provider "aws" {
  region = "us-east-1"
}

module "operations" {
  source = "../.."

  name                = "batchform-example-operations"
  ttl_attribute       = "expires_at"
  deletion_protection = false # example only: lets `terraform destroy` remove the table

  tags = {
    Project = "batchform"
    Example = "dynamodb-table"
  }
}

output "table" {
  description = "Name of the table; items are keyed by their id."
  value       = module.operations.name
}
