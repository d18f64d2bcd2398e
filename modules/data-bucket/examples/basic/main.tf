# Minimal use of the data-bucket module: a private, versioned, TLS-only bucket whose fan-out
# items expire after three days.

provider "aws" {
  region = "us-east-1"
}

data "aws_caller_identity" "current" {}

module "data_bucket" {
  source = "../.."

  name                = "batchform-example-data-${data.aws_caller_identity.current.account_id}"
  fan_out_expiry_days = 3
  force_destroy       = true # example only: lets `terraform destroy` remove what was written

  tags = {
    Project = "batchform"
    Example = "data-bucket"
  }
}

output "bucket" {
  description = "Name of the bucket; a job's items go under fan-out/<job>/."
  value       = module.data_bucket.name
}
