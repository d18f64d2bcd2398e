output "repository_name" {
  description = "Name of the repository."
  value       = aws_ecr_repository.this.name
}

output "repository_arn" {
  description = "ARN of the repository (use it to scope pull/push permissions)."
  value       = aws_ecr_repository.this.arn
}

output "repository_url" {
  description = "URL of the repository (`<registry>/<name>`); append `:<build>` to form an image reference."
  value       = aws_ecr_repository.this.repository_url
}

output "registry_id" {
  description = "ID of the registry (the AWS account ID) holding the repository."
  value       = aws_ecr_repository.this.registry_id
}

output "lifecycle_policy" {
  description = "The repository's lifecycle policy (JSON): the protected tags' rules first, then untagged expiry, then the last keep_builds numeric builds."
  value       = aws_ecr_lifecycle_policy.this.policy
}
