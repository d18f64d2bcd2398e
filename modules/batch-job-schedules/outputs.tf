output "arns" {
  description = "Map of schedule key to the schedule's ARN."
  value       = { for k, s in aws_scheduler_schedule.this : k => s.arn }
}

output "names" {
  description = "Map of schedule key to the schedule's name (`<name_prefix><key>`, in the default schedule group)."
  value       = { for k, s in aws_scheduler_schedule.this : k => s.name }
}

output "inputs" {
  description = "Map of schedule key to what each run sends to SubmitJob (JobName, JobQueue, JobDefinition, ShareIdentifier, Tags, PropagateTags), as an object."
  value       = local.inputs
}

output "role_arns" {
  description = "Map of schedule key to the ARN of the role EventBridge Scheduler submits with."
  value       = { for k, r in aws_iam_role.this : k => r.arn }
}

output "role_policies" {
  description = "Map of schedule key to its role's policy (JSON): SubmitJob on its definition and queue, TagResource on the jobs it creates with its tag keys, SendMessage on the dead-letter queue."
  value       = { for k, p in aws_iam_role_policy.this : k => p.policy }
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue (null without schedules): the events of runs that could not be submitted."
  value       = one(aws_sqs_queue.dead_letter[*].arn)
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue (null without schedules), to read the failed runs from."
  value       = one(aws_sqs_queue.dead_letter[*].url)
}
