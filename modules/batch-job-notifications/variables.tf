variable "name" {
  description = "Name of the SNS topic and of the EventBridge rule (letters, digits, `-` and `_`, at most 64), and of the key's alias when the module makes the key (`alias/<name>`)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1-64 letters, digits, `-` or `_` (an EventBridge rule's limit)."
  }
}

variable "account_name" {
  description = "The account's name in batchform (batchform.yaml): the message names it, beside the AWS account id, and gives the `invoke jobs.logs <job id> --account <account_name>` to type."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.account_name))
    error_message = "account_name must be lowercase letters, digits and hyphens, starting with a letter (at most 31)."
  }
}

variable "job_queue_arns" {
  description = "The job queues whose jobs' state changes are told (the rule matches `detail.jobQueue` against exactly these)."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.job_queue_arns) >= 1 && alltrue([for arn in var.job_queue_arns : can(regex("^arn:aws[a-z-]*:batch:[a-z0-9-]+:[0-9]{12}:job-queue/[A-Za-z0-9_-]{1,128}$", arn))])
    error_message = "job_queue_arns must list at least one Batch job queue ARN (arn:aws:batch:<region>:<account>:job-queue/<name>)."
  }

  # The rule sees the events of its own account and region only.
  validation {
    condition     = length(distinct([for arn in var.job_queue_arns : join(":", slice(split(":", arn), 0, 5))])) <= 1
    error_message = "job_queue_arns must all be queues of one account and region (the rule's)."
  }
}

variable "statuses" {
  description = "The job statuses told (`detail.status`): FAILED by default; SUCCEEDED, or any status AWS Batch gives a job (SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING), each at most once."
  type        = list(string)
  default     = ["FAILED"]
  nullable    = false

  validation {
    condition = length(var.statuses) >= 1 && length(distinct(var.statuses)) == length(var.statuses) && alltrue([
      for status in var.statuses : contains(["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"], status)
    ])
    error_message = "statuses must list, each once, statuses AWS Batch gives a job: SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED (a misspelt one would never match)."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key that encrypts the topic; its key policy must let `events.amazonaws.com` use it (kms:Decrypt, kms:GenerateDataKey). Null: the module makes such a key. Not the AWS-managed `alias/aws/sns`, whose policy EventBridge cannot be given: it could not publish."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias: EventBridge cannot publish to a topic encrypted with alias/aws/sns."
  }
}

variable "subscribers" {
  description = "Who is told: `email` addresses (each must confirm the mail SNS sends), `https` URLs (the endpoint must confirm the subscription SNS posts), `sqs` queue ARNs (the queue's policy must let sns.amazonaws.com send from this topic; a queue of another account must confirm the subscription). Each endpoint once."
  type = object({
    email = optional(list(string), [])
    https = optional(list(string), [])
    sqs   = optional(list(string), [])
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for address in var.subscribers.email : can(regex("^[^@\\s]{1,64}@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$", address))])
    error_message = "Every subscribers.email entry must be an email address."
  }

  validation {
    condition     = alltrue([for url in var.subscribers.https : can(regex("^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\\s]*)?$", url))])
    error_message = "Every subscribers.https entry must be an https:// URL."
  }

  # A FIFO queue takes messages only from a FIFO topic, and this is a standard one.
  validation {
    condition     = alltrue([for arn in var.subscribers.sqs : can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$", arn))])
    error_message = "Every subscribers.sqs entry must be an SQS queue ARN (arn:aws:sqs:<region>:<account>:<name>), not a FIFO queue."
  }

  validation {
    condition = alltrue([
      for endpoints in [var.subscribers.email, var.subscribers.https, var.subscribers.sqs] : length(distinct(endpoints)) == length(endpoints)
    ])
    error_message = "Every subscribers endpoint must be listed once."
  }
}

variable "tags" {
  description = "Tags applied to the topic, the rule and the key."
  type        = map(string)
  default     = {}
  nullable    = false
}
