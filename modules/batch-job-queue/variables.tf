variable "name" {
  description = "Name of the job queue (1-128 letters, digits, hyphens or underscores). Also used for the fair-share scheduling policy."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.name))
    error_message = "name must be 1-128 characters of letters, digits, hyphens and underscores."
  }
}

variable "priority" {
  description = "Priority of the queue; queues with a higher value are evaluated first when they share compute environments."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.priority >= 0 && var.priority <= 1000 && floor(var.priority) == var.priority
    error_message = "priority must be a whole number between 0 and 1000."
  }
}

variable "state" {
  description = "State of the queue: ENABLED accepts jobs, DISABLED rejects new submissions but finishes queued jobs."
  type        = string
  default     = "ENABLED"
  nullable    = false

  validation {
    condition     = contains(["ENABLED", "DISABLED"], var.state)
    error_message = "state must be ENABLED or DISABLED."
  }
}

variable "compute_environment_arns" {
  description = "ARNs of the compute environments, in the order the scheduler tries them (1 to 3). All must be of the same kind (EC2/SPOT or FARGATE/FARGATE_SPOT)."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.compute_environment_arns) >= 1 && length(var.compute_environment_arns) <= 3
    error_message = "compute_environment_arns must list between 1 and 3 compute environments."
  }

  validation {
    condition     = alltrue([for arn in var.compute_environment_arns : can(regex("^arn:aws[a-z-]*:batch:[a-z0-9-]+:[0-9]{12}:compute-environment/[A-Za-z0-9_-]{1,128}$", arn))])
    error_message = "Each entry of compute_environment_arns must be a Batch compute environment ARN (arn:aws[-partition]:batch:<region>:<account>:compute-environment/<name>)."
  }

  validation {
    condition     = length(distinct(var.compute_environment_arns)) == length(var.compute_environment_arns)
    error_message = "compute_environment_arns must not contain duplicates."
  }
}

variable "fair_share_policy" {
  description = "Fair-share scheduling policy for the queue; null (default) keeps FIFO scheduling. AWS cannot remove a scheduling policy from an existing queue: switching to null replaces the queue."
  type = object({
    compute_reservation = optional(number, 0)
    share_decay_seconds = optional(number, 0)
    share_distribution = optional(list(object({
      share_identifier = string
      weight_factor    = optional(number, 1)
    })), [])
  })
  default = null

  validation {
    condition = var.fair_share_policy == null ? true : (
      var.fair_share_policy.compute_reservation >= 0 && var.fair_share_policy.compute_reservation <= 99 &&
      floor(var.fair_share_policy.compute_reservation) == var.fair_share_policy.compute_reservation
    )
    error_message = "fair_share_policy.compute_reservation must be a whole number between 0 and 99."
  }

  validation {
    condition = var.fair_share_policy == null ? true : (
      var.fair_share_policy.share_decay_seconds >= 0 && var.fair_share_policy.share_decay_seconds <= 604800 &&
      floor(var.fair_share_policy.share_decay_seconds) == var.fair_share_policy.share_decay_seconds
    )
    error_message = "fair_share_policy.share_decay_seconds must be a whole number between 0 and 604800 (one week)."
  }

  validation {
    condition = var.fair_share_policy == null ? true : (
      length(var.fair_share_policy.share_distribution) <= 500 &&
      alltrue([for s in var.fair_share_policy.share_distribution : can(regex("^[A-Za-z0-9_]{1,255}\\*?$", s.share_identifier))]) &&
      length(distinct([for s in var.fair_share_policy.share_distribution : s.share_identifier])) == length(var.fair_share_policy.share_distribution)
    )
    error_message = "fair_share_policy.share_distribution must have at most 500 entries with unique share_identifier values of 1-255 letters, digits or underscores (AWS: alphanumeric), optionally ending in `*` (prefix match)."
  }

  validation {
    condition = var.fair_share_policy == null ? true : alltrue([
      for s in var.fair_share_policy.share_distribution : s.weight_factor >= 0.0001 && s.weight_factor <= 999.9999
    ])
    error_message = "Each fair_share_policy.share_distribution weight_factor must be between 0.0001 and 999.9999."
  }
}

variable "job_state_time_limit_actions" {
  description = "What AWS Batch does with a job stuck at the head of the queue: after `max_time_seconds` (600-86400) in `state` RUNNABLE with the status reason `reason`, it takes `action` (CANCEL, the only action for ECS and Fargate queues). The reasons Batch can act on: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY, MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE, MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT, MISCONFIGURATION:EC2_INSTANCE_CONFIGURATION_UNSUPPORTED; one action per reason."
  type = list(object({
    reason           = string
    max_time_seconds = number
    action           = optional(string, "CANCEL")
    state            = optional(string, "RUNNABLE")
  }))
  default  = []
  nullable = false

  validation {
    condition = alltrue([
      for a in var.job_state_time_limit_actions : a.max_time_seconds >= 600 && a.max_time_seconds <= 86400 && floor(a.max_time_seconds) == a.max_time_seconds
    ])
    error_message = "Each job_state_time_limit_actions max_time_seconds must be a whole number from 600 (10 minutes) to 86400 (24 hours)."
  }

  validation {
    condition     = alltrue([for a in var.job_state_time_limit_actions : a.action == "CANCEL" && a.state == "RUNNABLE"])
    error_message = "Each job_state_time_limit_actions entry must have action CANCEL and state RUNNABLE (the only ones AWS Batch supports for ECS and Fargate queues)."
  }

  validation {
    condition = alltrue([
      for a in var.job_state_time_limit_actions : contains([
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
        "MISCONFIGURATION:EC2_INSTANCE_CONFIGURATION_UNSUPPORTED",
      ], a.reason)
    ]) && length(distinct([for a in var.job_state_time_limit_actions : a.reason])) == length(var.job_state_time_limit_actions)
    error_message = "Each job_state_time_limit_actions reason must be one AWS Batch acts on (CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY, MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE, MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT, MISCONFIGURATION:EC2_INSTANCE_CONFIGURATION_UNSUPPORTED), each at most once."
  }
}

variable "tags" {
  description = "Tags applied to the queue and the scheduling policy."
  type        = map(string)
  default     = {}
  nullable    = false
}
