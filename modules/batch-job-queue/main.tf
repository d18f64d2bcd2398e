resource "aws_batch_scheduling_policy" "this" {
  count = var.fair_share_policy == null ? 0 : 1

  name = var.name

  fair_share_policy {
    compute_reservation = var.fair_share_policy.compute_reservation
    share_decay_seconds = var.fair_share_policy.share_decay_seconds

    dynamic "share_distribution" {
      for_each = var.fair_share_policy.share_distribution

      content {
        share_identifier = share_distribution.value.share_identifier
        weight_factor    = share_distribution.value.weight_factor
      }
    }
  }

  tags = var.tags
}

resource "aws_batch_job_queue" "this" {
  name                  = var.name
  priority              = var.priority
  state                 = var.state
  scheduling_policy_arn = var.fair_share_policy == null ? null : aws_batch_scheduling_policy.this[0].arn

  dynamic "compute_environment_order" {
    for_each = var.compute_environment_arns

    content {
      order               = compute_environment_order.key + 1
      compute_environment = compute_environment_order.value
    }
  }

  dynamic "job_state_time_limit_action" {
    for_each = var.job_state_time_limit_actions

    content {
      action           = job_state_time_limit_action.value.action
      max_time_seconds = job_state_time_limit_action.value.max_time_seconds
      reason           = job_state_time_limit_action.value.reason
      state            = job_state_time_limit_action.value.state
    }
  }

  tags = var.tags
}
