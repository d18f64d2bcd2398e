output "arns" {
  description = "Map of job key to job definition ARN including the revision (`...:job-definition/<name>:<revision>`); changes with every new revision."
  value       = { for k, jd in aws_batch_job_definition.this : k => jd.arn }
}

output "arn_prefixes" {
  description = "Map of job key to job definition ARN without the revision; submitting with it runs the latest ACTIVE revision."
  value       = { for k, jd in aws_batch_job_definition.this : k => jd.arn_prefix }
}

output "names" {
  description = "Map of job key to job definition name (`<name_prefix><key>`)."
  value       = { for k, jd in aws_batch_job_definition.this : k => jd.name }
}

output "revisions" {
  description = "Map of job key to the current revision number."
  value       = { for k, jd in aws_batch_job_definition.this : k => jd.revision }
}

output "scheduling_priorities" {
  description = "Map of job key to the job definition's scheduling priority (null when it has none)."
  value       = { for k, jd in aws_batch_job_definition.this : k => jd.scheduling_priority }
}

output "execution_role_arn" {
  description = "ARN of the task execution role shared by the job definitions."
  value       = aws_iam_role.execution.arn
}

output "job_role_arns" {
  description = "Map of job key to the ARN of the job's own IAM role (grant it further access by ARN if needed)."
  value       = { for k, r in aws_iam_role.job : k => r.arn }
}

output "container_properties" {
  description = "Map of job key to the container properties registered (JSON): image, roles, resources, logging, network configuration."
  value       = { for k, jd in aws_batch_job_definition.this : k => jd.container_properties }
}

output "tags_all" {
  description = "Map of job key to the job definition's tags including the provider's default tags: what a job submitted with propagate_tags carries besides its own."
  value       = { for k, jd in aws_batch_job_definition.this : k => jd.tags_all }
}

output "execution_role_policy" {
  description = "The task execution role's policy (JSON): image pulls, log writes, and reads of exactly the referenced secrets (with kms:Decrypt on their keys)."
  value       = aws_iam_role_policy.execution.policy
}

output "job_role_policies" {
  description = "Map of job key to its job role's policy document (JSON), for jobs whose role has one."
  value       = { for k, p in aws_iam_role_policy.job : k => p.policy }
}
