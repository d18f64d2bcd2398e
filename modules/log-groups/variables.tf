variable "names" {
  description = "Names of the CloudWatch log groups to create (1-512 characters of `a-zA-Z0-9_-/.#`, not starting with `aws/`)."
  type        = set(string)
  nullable    = false

  validation {
    condition = alltrue([
      for n in var.names : length(n) >= 1 && length(n) <= 512 && can(regex("^[A-Za-z0-9_/.#-]+$", n)) && !startswith(n, "aws/")
    ])
    error_message = "Each log group name must be 1-512 characters of letters, digits, `_`, `-`, `/`, `.` or `#`, and must not start with `aws/`."
  }
}

variable "retention_in_days" {
  description = "Days to retain log events. One of the values CloudWatch Logs accepts; 0 keeps events forever."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.retention_in_days)
    error_message = "retention_in_days must be one of 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "kms_key_arn" {
  description = "ARN of a KMS key used to encrypt the log groups; null uses CloudWatch Logs' default encryption. The key policy must allow the `logs.<region>.amazonaws.com` service principal."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws[-partition]:kms:<region>:<account>:key/<key-id>), not an alias."
  }
}

variable "tags" {
  description = "Tags applied to every log group."
  type        = map(string)
  default     = {}
  nullable    = false
}
