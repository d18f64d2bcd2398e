output "names" {
  description = "Map of log group name to log group name (handy for `for_each` and for referencing a group so that the dependency is recorded)."
  value       = { for n, g in aws_cloudwatch_log_group.this : n => g.name }
}

output "arns" {
  description = "Map of log group name to log group ARN (without the trailing `:*`)."
  value       = { for n, g in aws_cloudwatch_log_group.this : n => g.arn }
}
