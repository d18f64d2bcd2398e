variable "name" {
  description = "Name of the ECR repository (2-256 characters; lowercase letters, digits, and `.`, `_`, `-` or `/` between alphanumeric runs)."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.name) >= 2 && length(var.name) <= 256
    error_message = "The repository name must be between 2 and 256 characters long."
  }

  validation {
    condition     = can(regex("^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$", var.name))
    error_message = "The repository name must match (?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)* (lowercase; separators `.`, `_`, `-` only between alphanumerics; `/` between path components)."
  }
}

variable "kms_key_arn" {
  description = "ARN of a KMS key used to encrypt images at rest. null selects AES256 (ECR-managed keys). Changing it replaces the repository. Must be a key ARN, not an alias."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws[-partition]:kms:<region>:<account>:key/<key-id>); aliases cause a perpetual diff."
  }
}

variable "scan_on_push" {
  description = "Whether images are scanned for vulnerabilities after being pushed."
  type        = bool
  default     = true
  nullable    = false
}

variable "keep_builds" {
  description = "Number of numerically tagged builds (tags starting with a digit) to keep; older ones are expired by the lifecycle policy."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.keep_builds >= 1 && var.keep_builds <= 1000 && floor(var.keep_builds) == var.keep_builds
    error_message = "keep_builds must be a whole number between 1 and 1000."
  }
}

variable "protected_tags" {
  description = "Tags the lifecycle policy must never expire, such as the build an account runs: each gets a rule of its own ahead of the others (an image matching a rule's tags cannot be expired by a rule of lower priority). Exact tags, no wildcards; at most 50."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = length(var.protected_tags) <= 50 && alltrue([for t in var.protected_tags : can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", t))])
    error_message = "protected_tags must hold at most 50 image tags (1-128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`; no `*`)."
  }

  validation {
    condition     = length(distinct(var.protected_tags)) == length(var.protected_tags)
    error_message = "protected_tags must not repeat a tag."
  }
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images are expired by the lifecycle policy."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.untagged_expiry_days >= 1 && floor(var.untagged_expiry_days) == var.untagged_expiry_days
    error_message = "untagged_expiry_days must be a whole number of at least 1."
  }
}

variable "pull_account_ids" {
  description = "Other AWS account IDs allowed to pull images. When non-empty a repository policy grants them ecr:BatchGetImage, ecr:GetDownloadUrlForLayer and ecr:BatchCheckLayerAvailability (they also need ecr:GetAuthorizationToken in their own IAM)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.pull_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "Each entry of pull_account_ids must be a 12-digit AWS account ID."
  }
}

variable "force_delete" {
  description = "Whether destroying the repository also deletes the images in it. Keep false in production."
  type        = bool
  default     = false
  nullable    = false
}

variable "tags" {
  description = "Tags applied to every taggable resource of the module."
  type        = map(string)
  default     = {}
  nullable    = false
}
