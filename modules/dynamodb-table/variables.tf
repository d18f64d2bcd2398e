variable "name" {
  description = "Name of the table: 3-255 letters, digits, underscores, hyphens and dots (DynamoDB's rules; names are unique per account and region)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.name))
    error_message = "name must be a valid DynamoDB table name: 3-255 letters, digits, `_`, `-` and `.`."
  }
}

variable "hash_key" {
  description = "Name of the partition key, a string attribute (type S): 1-255 characters."
  type        = string
  default     = "id"
  nullable    = false

  validation {
    condition     = length(var.hash_key) >= 1 && length(var.hash_key) <= 255
    error_message = "hash_key must be 1-255 characters."
  }
}

variable "range_key" {
  description = "Name of an optional sort key, a string attribute (type S): 1-255 characters, not the partition key; null makes a table with a partition key only."
  type        = string
  default     = null

  validation {
    condition     = var.range_key == null ? true : length(var.range_key) >= 1 && length(var.range_key) <= 255
    error_message = "range_key must be 1-255 characters, or null."
  }
}

variable "ttl_attribute" {
  description = "Name of the attribute holding each item's expiry time (a Number, seconds since the epoch): when set, TTL is enabled on it and DynamoDB deletes expired items. Not a key attribute; null leaves TTL off."
  type        = string
  default     = null

  validation {
    condition     = var.ttl_attribute == null ? true : length(var.ttl_attribute) >= 1 && length(var.ttl_attribute) <= 255
    error_message = "ttl_attribute must be 1-255 characters, or null."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer-managed KMS key that encrypts the table; null selects the AWS managed key `aws/dynamodb`. Must be a key ARN, not an alias. Readers and writers need kms:Decrypt and kms:GenerateDataKey on it."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws[-partition]:kms:<region>:<account>:key/<key-id>), not an alias."
  }
}

variable "point_in_time_recovery" {
  description = "Whether point-in-time recovery is on (continuous backups: the table can be restored to any second of the last 35 days)."
  type        = bool
  default     = true
  nullable    = false
}

variable "deletion_protection" {
  description = "Whether the table is protected from deletion. While true, a destroy fails: set it to false and apply first."
  type        = bool
  default     = true
  nullable    = false
}

variable "tags" {
  description = "Tags applied to the table."
  type        = map(string)
  default     = {}
  nullable    = false
}
