terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }

  # The roles' state: in the account's own state bucket, under a key of its own, locked with S3 lock
  # files (use_lockfile, terraform 1.10): see the README.
  backend "s3" {}
}
