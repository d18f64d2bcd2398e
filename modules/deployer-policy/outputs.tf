output "policy_json" {
  description = "The deployer's IAM policy (JSON): what terraform and batchform call in the account, scoped to its resources. Attach it to the role or user that runs `tf.apply`, `build push` and `submit`."
  value       = jsonencode({ Version = "2012-10-17", Statement = local.statements })
}

output "actions" {
  description = "Every action the policy allows, sorted (for review and tests)."
  value       = sort(distinct(flatten([for s in local.statements : s.Action])))
}

output "plan_policy_json" {
  description = "The plan-only policy (JSON): what `tf.plan` reads of the account, and its state lock; no change to anything else, no job data. For the role pull requests plan with."
  value       = jsonencode({ Version = "2012-10-17", Statement = local.plan_statements })
}

output "plan_actions" {
  description = "Every action the plan-only policy allows, sorted (for review and tests)."
  value       = sort(distinct(flatten([for s in local.plan_statements : s.Action])))
}
