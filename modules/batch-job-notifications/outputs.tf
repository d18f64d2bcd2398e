output "topic_arn" {
  description = "ARN of the SNS topic the messages are published to (subscribe more endpoints to it)."
  value       = aws_sns_topic.this.arn
}

output "rule_arn" {
  description = "ARN of the EventBridge rule on the queues' Batch Job State Change events."
  value       = aws_cloudwatch_event_rule.this.arn
}

output "kms_key_arn" {
  description = "ARN of the key that encrypts the topic: kms_key_arn, or the one the module made."
  value       = local.kms_key_arn
}

output "event_pattern" {
  description = "The rule's event pattern, as an object: source aws.batch, detail-type Batch Job State Change, the queues and the statuses."
  value       = local.event_pattern
}

output "input_template" {
  description = "The message (an EventBridge input template): the job's name, id and status, the account's names, the queue, the exit code, the reason and the jobs.logs command."
  value       = local.input_template
}

output "subscription_arns" {
  description = "Map of `<protocol>:<endpoint>` to the subscription's ARN (email and https ones stay pending until confirmed)."
  value       = { for k, s in aws_sns_topic_subscription.this : k => s.arn }
}

output "topic_policy" {
  description = "The topic's policy (JSON): events.amazonaws.com may publish, from the rule only."
  value       = aws_sns_topic_policy.this.policy
}

output "key_policy" {
  description = "The policy of the key the module made (JSON), or null when kms_key_arn was given."
  value       = one(aws_kms_key.this[*].policy)
}
