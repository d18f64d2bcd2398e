variable "name" {
  description = "Name of the bucket: 3-63 lowercase letters, digits, hyphens and dots, starting and ending with a letter or digit (S3's rules for general purpose buckets; names are global across all AWS accounts)."
  type        = string
  nullable    = false

  validation {
    condition = (
      can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.name)) && !strcontains(var.name, "..") &&
      !can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$", var.name)) && !startswith(var.name, "xn--") &&
      !startswith(var.name, "sthree-") && !endswith(var.name, "-s3alias") && !endswith(var.name, "--ol-s3")
    )
    error_message = "name must be a valid S3 bucket name: 3-63 lowercase letters, digits, hyphens and dots, starting and ending with a letter or digit, no `..`, not an IP address, not starting with `xn--` or `sthree-`, not ending in `-s3alias` or `--ol-s3`."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer-managed KMS key for SSE-KMS (with an S3 bucket key); null selects SSE-S3 (AES256). Must be a key ARN, not an alias. Readers need kms:Decrypt on it."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws[-partition]:kms:<region>:<account>:key/<key-id>), not an alias."
  }
}

variable "fan_out_prefix" {
  description = "Key prefix of the fan-out items (one object per item, under `<prefix><job>/`); the lifecycle rule expires what is under it."
  type        = string
  default     = "fan-out/"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.fan_out_prefix)) && length(var.fan_out_prefix) <= 512
    error_message = "fan_out_prefix must be a key prefix ending in `/`, without a leading `/` or empty path segments (e.g. fan-out/), at most 512 characters."
  }
}

variable "fan_out_expiry_days" {
  description = "Days after which fan-out items are expired: current versions, then noncurrent versions the same number of days after they were replaced. Incomplete multipart uploads under the prefix are aborted after one day."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = var.fan_out_expiry_days >= 1 && var.fan_out_expiry_days <= 3650 && floor(var.fan_out_expiry_days) == var.fan_out_expiry_days
    error_message = "fan_out_expiry_days must be a whole number of days from 1 to 3650."
  }
}

variable "force_destroy" {
  description = "Whether destroying the bucket also deletes every object (and version) in it. Keep false where the data matters."
  type        = bool
  default     = false
  nullable    = false
}

variable "tags" {
  description = "Tags applied to the bucket."
  type        = map(string)
  default     = {}
  nullable    = false
}
