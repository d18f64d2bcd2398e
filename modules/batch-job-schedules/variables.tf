variable "name_prefix" {
  description = "Prefix of every schedule's name (`<name_prefix><key>`), of the scheduler roles' names, and of the dead-letter queue's (`<name_prefix>schedules-dead-letter`): letters, digits, `-`, `_` and `.`, at most 58 characters."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{0,58}$", var.name_prefix))
    error_message = "name_prefix must be at most 58 letters, digits, `-`, `_` or `.` (the dead-letter queue's name takes 22 more of SQS's 80)."
  }
}

variable "schedules" {
  description = <<-EOT
    Schedules, by key (the schedule is named `<name_prefix><key>`, at most 64 characters), each submitting one job definition to one job queue through EventBridge Scheduler's Batch SubmitJob target.
    `expression` is `cron(minutes hours day-of-month month day-of-week year)` (exactly one of day-of-month and day-of-week is `?`), `rate(N minute|minutes|hour|hours|day|days)` (singular for 1 only) or `at(yyyy-mm-ddThh:mm:ss)`, in `timezone` (an IANA name, default UTC); `enabled = false` keeps the schedule, paused.
    `job_queue_arn` and `job_definition_arn` (without `:revision`, so each run takes the latest ACTIVE revision) are what is submitted; the schedule's role may submit exactly that definition (any of its revisions) to exactly that queue.
    `job_name` names the jobs (default `<key>-scheduled`); `share_identifier` is required by a fair-share queue and refused by any other; `tags` are the jobs' own tags (the schedule's role may add exactly these keys), propagated with the job definition's to the ECS tasks.
  EOT
  type = map(object({
    expression         = string
    timezone           = optional(string, "UTC")
    enabled            = optional(bool, true)
    job_queue_arn      = string
    job_definition_arn = string
    job_name           = optional(string)
    share_identifier   = optional(string)
    tags               = optional(map(string), {})
  }))
  nullable = false

  validation {
    condition     = alltrue([for key in keys(var.schedules) : can(regex("^[A-Za-z0-9_.-]{1,64}$", key))])
    error_message = "Every schedules key must be 1-64 letters, digits, `-`, `_` or `.` (it names the schedule)."
  }

  # EventBridge Scheduler: six cron fields, `?` in exactly one of day-of-month and day-of-week.
  validation {
    condition = alltrue([
      for s in var.schedules : !startswith(s.expression, "cron(") ? true : can(regex("^cron\\([^ ()]+( [^ ()]+){5}\\)$", s.expression)) && try(
        (split(" ", trimsuffix(trimprefix(s.expression, "cron("), ")"))[2] == "?") != (split(" ", trimsuffix(trimprefix(s.expression, "cron("), ")"))[4] == "?"),
        false,
      )
    ])
    error_message = "Every schedules.<key>.expression in cron() must have six fields (minutes hours day-of-month month day-of-week year), with ? in exactly one of day-of-month and day-of-week."
  }

  # "If the value is equal to 1, then the unit must be singular."
  validation {
    condition = alltrue([
      for s in var.schedules : startswith(s.expression, "cron(") || can(regex("^rate\\(1 (minute|hour|day)\\)$|^rate\\([1-9][0-9]* (minutes|hours|days)\\)$|^at\\([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\)$", s.expression)) && !can(regex("^rate\\(1 (minutes|hours|days)\\)$", s.expression))
    ])
    error_message = "Every schedules.<key>.expression must be cron(...), rate(N minute|minutes|hour|hours|day|days) with N at least 1 (singular for 1 only) or at(yyyy-mm-ddThh:mm:ss)."
  }

  validation {
    condition     = alltrue([for s in var.schedules : length(s.timezone) <= 50 && can(regex("^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$", s.timezone))])
    error_message = "Every schedules.<key>.timezone must be an IANA time zone name such as Europe/Paris or UTC (at most 50 characters)."
  }

  validation {
    condition     = alltrue([for s in var.schedules : can(regex("^arn:aws[a-z-]*:batch:[a-z0-9-]+:[0-9]{12}:job-queue/[A-Za-z0-9_-]{1,128}$", s.job_queue_arn))])
    error_message = "Every schedules.<key>.job_queue_arn must be a Batch job queue ARN (arn:aws:batch:<region>:<account>:job-queue/<name>)."
  }

  validation {
    condition     = alltrue([for s in var.schedules : can(regex("^arn:aws[a-z-]*:batch:[a-z0-9-]+:[0-9]{12}:job-definition/[A-Za-z0-9_-]{1,128}$", s.job_definition_arn))])
    error_message = "Every schedules.<key>.job_definition_arn must be a Batch job definition ARN without its revision (arn:aws:batch:<region>:<account>:job-definition/<name>): each run takes the latest ACTIVE revision."
  }

  validation {
    condition     = alltrue([for s in var.schedules : try(slice(split(":", s.job_queue_arn), 0, 5) == slice(split(":", s.job_definition_arn), 0, 5), true)])
    error_message = "Every schedules.<key>.job_definition_arn must be in the account and region of its job_queue_arn."
  }

  validation {
    condition     = alltrue([for s in var.schedules : s.job_name == null || can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$", s.job_name))])
    error_message = "Every schedules.<key>.job_name must be 1-128 letters, digits, hyphens and underscores, starting with a letter or digit."
  }

  validation {
    condition     = alltrue([for s in var.schedules : s.share_identifier == null || can(regex("^[A-Za-z0-9_]{1,255}$", s.share_identifier))])
    error_message = "Every schedules.<key>.share_identifier must be 1-255 letters, digits and underscores."
  }

  validation {
    condition = alltrue([
      for s in var.schedules : length(s.tags) <= 50 && alltrue([
        for k, v in s.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")
      ])
    ])
    error_message = "Every schedules.<key>.tags must hold at most 50 tags, keys of 1-128 characters not starting with aws:, values of at most 256."
  }
}

variable "retry_policy" {
  description = "How long EventBridge Scheduler keeps trying a SubmitJob that fails (throttled, or refused): at most `maximum_retry_attempts` retries (0-185) within `maximum_event_age_in_seconds` (60-86400) of the scheduled time; then the event goes to the dead-letter queue."
  type = object({
    maximum_retry_attempts       = optional(number, 3)
    maximum_event_age_in_seconds = optional(number, 3600)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.retry_policy.maximum_retry_attempts >= 0 && var.retry_policy.maximum_retry_attempts <= 185 && floor(var.retry_policy.maximum_retry_attempts) == var.retry_policy.maximum_retry_attempts
    error_message = "retry_policy.maximum_retry_attempts must be a whole number from 0 to 185."
  }

  validation {
    condition     = var.retry_policy.maximum_event_age_in_seconds >= 60 && var.retry_policy.maximum_event_age_in_seconds <= 86400 && floor(var.retry_policy.maximum_event_age_in_seconds) == var.retry_policy.maximum_event_age_in_seconds
    error_message = "retry_policy.maximum_event_age_in_seconds must be a whole number from 60 to 86400."
  }
}

variable "dead_letter_retention_seconds" {
  description = "How long the dead-letter queue keeps the events of runs that could not be submitted (60-1209600 seconds; default 14 days, SQS's longest)."
  type        = number
  default     = 1209600
  nullable    = false

  validation {
    condition     = var.dead_letter_retention_seconds >= 60 && var.dead_letter_retention_seconds <= 1209600 && floor(var.dead_letter_retention_seconds) == var.dead_letter_retention_seconds
    error_message = "dead_letter_retention_seconds must be a whole number from 60 to 1209600 (14 days)."
  }
}

variable "tags" {
  description = "Tags applied to the scheduler roles and the dead-letter queue (EventBridge Scheduler's schedules take none)."
  type        = map(string)
  default     = {}
  nullable    = false
}
