output "compute_environment_arns" {
  description = "Map of compute_environments key to compute environment ARN (pass them, in order of preference, to a job queue)."
  value       = { for k, ce in aws_batch_compute_environment.this : k => ce.arn }
}

output "compute_environment_names" {
  description = "Map of compute_environments key to the generated compute environment name (`<name>-<key>-<unique suffix>`)."
  value       = { for k, ce in aws_batch_compute_environment.this : k => ce.compute_environment_name }
}

output "security_group_id" {
  description = "ID of the module's security group (no ingress, HTTPS egress)."
  value       = aws_security_group.this.id
}

output "service_role_arn" {
  description = "ARN of the role Batch acts as for these environments: its service-linked role, AWSServiceRoleForBatch."
  value       = values(aws_batch_compute_environment.this)[0].service_role # the same for every environment
}

output "instance_role_arn" {
  description = "ARN of the ECS container instance role, or null when there is no EC2/SPOT environment."
  value       = one(aws_iam_role.instance[*].arn)
}

output "instance_profile_arn" {
  description = "ARN of the instance profile used by EC2/SPOT environments, or null when there is none."
  value       = one(aws_iam_instance_profile.instance[*].arn)
}

output "spot_fleet_role_arn" {
  description = "ARN of the Spot Fleet role, or null when there is no SPOT environment."
  value       = one(aws_iam_role.spot_fleet[*].arn)
}
