output "deploy_role_arn" {
  description = "The deploy role: batchform.yaml's `accounts.<name>.ci.deploy_role_arn`."
  value       = aws_iam_role.deploy.arn
}

output "plan_role_arn" {
  description = "The plan-only role (null without `plan_pull_requests`): batchform.yaml's `accounts.<name>.ci.plan_role_arn`."
  value       = var.plan_pull_requests ? aws_iam_role.plan[0].arn : null
}

output "oidc_provider_arn" {
  description = "The account's IAM OIDC provider for GitHub, created here or found."
  value       = local.provider_arn
}

output "deploy_subjects" {
  description = "The `sub` claims the deploy role trusts (branches, then environments)."
  value       = local.deploy_subjects
}

output "plan_subjects" {
  description = "The `sub` claims the plan-only role trusts."
  value       = local.plan_subjects
}
