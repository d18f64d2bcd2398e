output "name" {
  description = "Name of the table."
  value       = aws_dynamodb_table.this.name
}

output "arn" {
  description = "ARN of the table (append `/index/*` or `/stream/*` for its indexes and streams, e.g. to scope a role)."
  value       = aws_dynamodb_table.this.arn
}

output "hash_key" {
  description = "Name of the table's partition key (a string attribute)."
  value       = aws_dynamodb_table.this.hash_key
}

output "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the table, or null for the AWS managed key `aws/dynamodb`."
  value       = var.kms_key_arn
}
