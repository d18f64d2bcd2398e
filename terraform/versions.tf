terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 6.0"
    }
  }

  # Settings per account come from the backend file batchform writes for it
  # (`terraform init -backend-config=...`): S3 state, encrypted, with S3-native locking.
  backend "s3" {}
}
