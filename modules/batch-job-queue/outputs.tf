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
