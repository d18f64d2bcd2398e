variable "account_name" {
  description = "The account's short name in batchform.yaml: its resources are named `batchform-<account_name>...`, its log groups `/batchform/<account_name>/...`, its data bucket `batchform-<account_name>-data-<account_id>`."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.account_name))
    error_message = "account_name must be lowercase letters, digits and hyphens, starting with a letter (at most 31)."
  }
}

variable "account_id" {
  description = "The 12-digit id of the AWS account the deployer works in."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "region" {
  description = "AWS region of the account's batch resources."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "partition" {
  description = "AWS partition of the account: aws, aws-cn or aws-us-gov."
  type        = string
  default     = "aws"
  nullable    = false

  validation {
    condition     = contains(["aws", "aws-cn", "aws-us-gov"], var.partition)
    error_message = "partition must be aws, aws-cn or aws-us-gov."
  }
}

variable "state_bucket" {
  description = "Bucket of the account's terraform state (batchform's default: `batchform-tfstate-<account_id>-<region>`); null takes that default."
  type        = string
  default     = null

  validation {
    condition     = var.state_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket))
    error_message = "state_bucket must be an S3 bucket name, or null."
  }
}

variable "repository_names" {
  description = "The ECR repositories the account declares (its images); the deployer manages, pushes to and pulls from exactly these."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.repository_names) >= 1 && alltrue([for n in var.repository_names : can(regex("^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$", n))])
    error_message = "repository_names must list at least one ECR repository name (lowercase; `.`, `_`, `-` between alphanumerics; `/` between path components)."
  }
}

variable "kms_key_arns" {
  description = "Customer-managed KMS keys the account's resources use (the account source's `kms`, and the state's `kms_key_id`): the deployer may describe them, create grants on them (ECR) and encrypt and decrypt with them."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.kms_key_arns : can(regex("^arn:aws[-a-z]*:kms:[a-z]{2}(-gov)?-[a-z]+-[0-9]:[0-9]{12}:key/[A-Za-z0-9-]+$", arn))])
    error_message = "Each kms_key_arns entry must be a KMS key ARN, not an alias."
  }
}
