output "name" {
  description = "Name of the bucket."
  value       = aws_s3_bucket.this.id
}

output "arn" {
  description = "ARN of the bucket (append `/<key>` for objects, e.g. to scope a role to a prefix)."
  value       = aws_s3_bucket.this.arn
}

output "fan_out_prefix" {
  description = "Key prefix of the fan-out items; a job's items are under `<fan_out_prefix><job>/`."
  value       = var.fan_out_prefix
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the objects, or null for SSE-S3."
  value       = var.kms_key_arn
}
