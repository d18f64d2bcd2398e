output "arn" {
  description = "ARN of the job queue (what jobs are submitted to)."
  value       = aws_batch_job_queue.this.arn
}

output "name" {
  description = "Name of the job queue."
  value       = aws_batch_job_queue.this.name
}

output "scheduling_policy_arn" {
  description = "ARN of the fair-share scheduling policy, or null when the queue uses FIFO scheduling."
  value       = one(aws_batch_scheduling_policy.this[*].arn)
}

output "job_state_time_limit_actions" {
  description = "The queue's time limits: what AWS Batch cancels, after how long RUNNABLE for which reason."
  value       = [for a in aws_batch_job_queue.this.job_state_time_limit_action : { reason = a.reason, max_time_seconds = a.max_time_seconds, action = a.action, state = a.state }]
}
