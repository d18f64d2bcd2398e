# ---- The account: written by batchform from batchform.yaml -------------------------------

variable "account_name" {
  description = "Short name of the account in batchform.yaml (local, dev, prod, ...)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.account_name))
    error_message = "account_name must be lowercase letters, digits and hyphens, starting with a letter (at most 31)."
  }
}

variable "account_id" {
  description = "The 12-digit AWS account id; terraform refuses to run with credentials of any other account."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "region" {
  description = "AWS region of the account's batch resources."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "aws_endpoint_url" {
  description = "Send every AWS API call to this URL instead of AWS (the local stack's emulator). Null for real accounts."
  type        = string
  default     = null

  validation {
    condition     = var.aws_endpoint_url == null || can(regex("^https?://", var.aws_endpoint_url))
    error_message = "aws_endpoint_url must be an http(s) URL or null."
  }
}

variable "image_registry" {
  description = "Registry (host[/prefix]) that serves this account's images, when it is not the ECR endpoint itself."
  type        = string
  default     = null
}

variable "network" {
  description = "Where compute runs. Empty subnet_ids means the default VPC's subnets. `assign_public_ip` gives Fargate tasks a public IP, which they need to pull their image where the subnet has no NAT gateway or VPC endpoints: null means on in the default VPC (public subnets, no NAT) and off in a declared VPC."
  type = object({
    vpc_id             = optional(string)
    subnet_ids         = optional(list(string), [])
    security_group_ids = optional(list(string), [])
    assign_public_ip   = optional(bool)
  })
  default = {}

  validation {
    condition     = var.network.vpc_id != null || var.network.assign_public_ip != false
    error_message = "network.assign_public_ip cannot be false in the default VPC (public subnets without a NAT gateway: Fargate jobs could not pull their image); declare network.vpc_id and subnet_ids with a NAT gateway or VPC endpoints to turn it off."
  }
}

variable "assume_role_arn" {
  description = "IAM role terraform assumes (and renews) in the account, from the credentials it is given. Null: use those credentials as they are."
  type        = string
  default     = null

  validation {
    condition     = var.assume_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$", var.assume_role_arn))
    error_message = "assume_role_arn must be an IAM role ARN such as arn:aws:iam::123456789012:role/deployer, or null."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

# ---- The workload: reviewed in terraform/accounts/<account>.tfvars ------------------------

variable "compute" {
  description = "The account's compute environment: FARGATE, FARGATE_SPOT, EC2 or SPOT, and its size."
  type = object({
    type                = optional(string, "FARGATE")
    max_vcpus           = optional(number, 16)
    min_vcpus           = optional(number, 0)
    instance_types      = optional(list(string), ["optimal"])
    allocation_strategy = optional(string)
  })
  default = {}

  validation {
    condition     = contains(["FARGATE", "FARGATE_SPOT", "EC2", "SPOT"], var.compute.type)
    error_message = "compute.type must be one of FARGATE, FARGATE_SPOT, EC2, SPOT."
  }

  validation {
    condition     = var.compute.max_vcpus > 0 && floor(var.compute.max_vcpus) == var.compute.max_vcpus
    error_message = "compute.max_vcpus must be a positive whole number."
  }
}

variable "compute_environments" {
  description = "Compute environments besides `compute` (which is the one named `main`), by name (lowercase letters, digits, - and _, not `main`): each takes what `compute` takes. A queue lists those it uses, in order."
  type = map(object({
    type                = optional(string, "FARGATE")
    max_vcpus           = optional(number, 16)
    min_vcpus           = optional(number, 0)
    instance_types      = optional(list(string), ["optimal"])
    allocation_strategy = optional(string)
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for name in keys(var.compute_environments) : can(regex("^[a-z][a-z0-9_-]{0,49}$", name)) && name != "main"])
    error_message = "Every compute_environments key must be 1-50 lowercase letters, digits, - and _, starting with a letter, and not `main` (that is `compute`)."
  }

  validation {
    condition     = alltrue([for name, ce in var.compute_environments : contains(["FARGATE", "FARGATE_SPOT", "EC2", "SPOT"], ce.type)])
    error_message = "Every compute_environments.<name>.type must be one of FARGATE, FARGATE_SPOT, EC2, SPOT."
  }
}

variable "queue" {
  description = "The account's default job queue (`default`). `compute_environments` are the compute environments it uses, in the order the scheduler tries them (1-3, all Fargate or all EC2; default `main`); `priority` (0-1000) orders queues sharing them. `fair_share` gives it a fair-share scheduling policy: `shares` maps share identifiers (letters, digits and underscores, at most 255; a trailing `*` matches a prefix) to weight factors (0.0001-999.9999, lower gets more), with `compute_reservation` (0-99) and `share_decay_seconds` (0-604800). A job submitted to a fair-share queue must name a share; a queue without a policy refuses one. AWS cannot remove a policy from a queue: turning it off replaces the queue. `time_limits` maps a status reason AWS Batch acts on to the seconds (600-86400) after which a job RUNNABLE for that reason is cancelled: by default 600 for a job no compute environment can run and 14400 (4 hours) for one waiting on instance capacity; `{}` keeps jobs waiting forever."
  type = object({
    compute_environments = optional(list(string), ["main"])
    priority             = optional(number, 1)
    fair_share = optional(object({
      compute_reservation = optional(number, 0)
      share_decay_seconds = optional(number, 0)
      shares              = optional(map(number), {})
    }))
    time_limits = optional(map(number)) # null: local.default_time_limits
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for ce in var.queue.compute_environments : ce == "main" || contains(keys(var.compute_environments), ce)])
    error_message = "Every queue.compute_environments entry must be main or a key of compute_environments."
  }

  validation {
    condition = length(distinct([
      for ce in var.queue.compute_environments : startswith(ce == "main" ? var.compute.type : try(var.compute_environments[ce].type, "FARGATE"), "FARGATE")
    ])) <= 1 && length(var.queue.compute_environments) >= 1 && length(var.queue.compute_environments) <= 3
    error_message = "queue.compute_environments must list 1-3 compute environments, all Fargate (FARGATE, FARGATE_SPOT) or all EC2 (EC2, SPOT): AWS Batch refuses a queue that mixes them."
  }

  validation {
    condition = var.queue.fair_share == null ? true : alltrue([
      for id in keys(var.queue.fair_share.shares) : can(regex("^[A-Za-z0-9_]{1,255}\\*?$", id))
    ]) && length(var.queue.fair_share.shares) <= 500
    error_message = "Every queue.fair_share.shares key must be a share identifier of 1-255 letters, digits and underscores, optionally ending in `*` (a prefix), and there may be at most 500."
  }

  validation {
    condition = var.queue.fair_share == null ? true : alltrue([
      for weight in values(var.queue.fair_share.shares) : weight >= 0.0001 && weight <= 999.9999
    ])
    error_message = "Every queue.fair_share.shares weight factor must be between 0.0001 and 999.9999."
  }

  validation {
    condition = var.queue.fair_share == null ? true : (
      var.queue.fair_share.compute_reservation >= 0 && var.queue.fair_share.compute_reservation <= 99 &&
      floor(var.queue.fair_share.compute_reservation) == var.queue.fair_share.compute_reservation
    )
    error_message = "queue.fair_share.compute_reservation must be a whole number from 0 to 99."
  }

  validation {
    condition = var.queue.fair_share == null ? true : (
      var.queue.fair_share.share_decay_seconds >= 0 && var.queue.fair_share.share_decay_seconds <= 604800 &&
      floor(var.queue.fair_share.share_decay_seconds) == var.queue.fair_share.share_decay_seconds
    )
    error_message = "queue.fair_share.share_decay_seconds must be a whole number from 0 to 604800 (one week)."
  }
}

variable "queues" {
  description = "Job queues besides `queue` (which is `default`), by name (lowercase letters, digits, - and _, not `default`): each takes what `queue` takes, its compute environments required. A job names its queue (`queue`, default `default`). The batch-job-queue module refuses what AWS would refuse of a fair-share policy or a time limit."
  type = map(object({
    compute_environments = list(string)
    priority             = optional(number, 1)
    fair_share = optional(object({
      compute_reservation = optional(number, 0)
      share_decay_seconds = optional(number, 0)
      shares              = optional(map(number), {})
    }))
    time_limits = optional(map(number)) # null: local.default_time_limits
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for name in keys(var.queues) : can(regex("^[a-z][a-z0-9_-]{0,49}$", name)) && name != "default"])
    error_message = "Every queues key must be 1-50 lowercase letters, digits, - and _, starting with a letter, and not `default` (that is `queue`)."
  }

  validation {
    condition = alltrue(flatten([
      for name, queue in var.queues : [for ce in queue.compute_environments : ce == "main" || contains(keys(var.compute_environments), ce)]
    ]))
    error_message = "Every queues.<name>.compute_environments entry must be main or a key of compute_environments."
  }

  validation {
    condition = alltrue([
      for name, queue in var.queues : length(distinct([
        for ce in queue.compute_environments : startswith(ce == "main" ? var.compute.type : try(var.compute_environments[ce].type, "FARGATE"), "FARGATE")
      ])) <= 1 && length(queue.compute_environments) >= 1 && length(queue.compute_environments) <= 3
    ])
    error_message = "Every queues.<name>.compute_environments must list 1-3 compute environments, all Fargate (FARGATE, FARGATE_SPOT) or all EC2 (EC2, SPOT): AWS Batch refuses a queue that mixes them."
  }
}

variable "kms" {
  description = "Customer-managed KMS keys, as key ARNs (arn:aws:kms:<region>:<account>:key/<id>; not aliases, which give a perpetual diff). `ecr` encrypts the image repositories (changing it replaces them). `logs` encrypts the jobs' log groups: its key policy must allow the `logs.<region>.amazonaws.com` service principal (the key and its policy are yours; batchform does not manage them). `secrets` are the keys of the referenced SSM parameters and Secrets Manager secrets: the execution role gets kms:Decrypt on them when a job references a secret. `data_bucket` encrypts the data bucket (SSE-KMS); the jobs' roles get kms:Decrypt on it. `notifications` encrypts the notifications' topic: its key policy must let `events.amazonaws.com` use it (kms:Decrypt, kms:GenerateDataKey); without it a key with that policy is made. Null or empty: AWS-managed encryption."
  type = object({
    ecr           = optional(string)
    logs          = optional(string)
    data_bucket   = optional(string)
    notifications = optional(string)
    secrets       = optional(list(string), [])
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.kms.ecr == null || can(regex("^arn:aws[-a-z]*:kms:[a-z]{2}(-gov)?-[a-z]+-[0-9]:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms.ecr))
    error_message = "kms.ecr must be a KMS key ARN (arn:aws:kms:<region>:<12 digits>:key/<id>), not an alias."
  }

  validation {
    condition     = var.kms.logs == null || can(regex("^arn:aws[-a-z]*:kms:[a-z]{2}(-gov)?-[a-z]+-[0-9]:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms.logs))
    error_message = "kms.logs must be a KMS key ARN (arn:aws:kms:<region>:<12 digits>:key/<id>), not an alias."
  }

  validation {
    condition     = var.kms.data_bucket == null || can(regex("^arn:aws[-a-z]*:kms:[a-z]{2}(-gov)?-[a-z]+-[0-9]:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms.data_bucket))
    error_message = "kms.data_bucket must be a KMS key ARN (arn:aws:kms:<region>:<12 digits>:key/<id>), not an alias."
  }

  validation {
    condition     = var.kms.notifications == null || can(regex("^arn:aws[-a-z]*:kms:[a-z]{2}(-gov)?-[a-z]+-[0-9]:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms.notifications))
    error_message = "kms.notifications must be a KMS key ARN (arn:aws:kms:<region>:<12 digits>:key/<id>), not an alias: EventBridge cannot publish to a topic encrypted with alias/aws/sns."
  }

  validation {
    condition     = alltrue([for arn in var.kms.secrets : can(regex("^arn:aws[-a-z]*:kms:[a-z]{2}(-gov)?-[a-z]+-[0-9]:[0-9]{12}:key/[A-Za-z0-9-]+$", arn))])
    error_message = "Every kms.secrets entry must be a KMS key ARN (arn:aws:kms:<region>:<12 digits>:key/<id>), not an alias."
  }

  # Repositories, log groups, the bucket and the topic are in the account's region, and so must their keys be.
  validation {
    condition     = alltrue([for arn in compact([var.kms.ecr, var.kms.logs, var.kms.data_bucket, var.kms.notifications]) : try(split(":", arn)[3] == var.region, true)])
    error_message = "kms.ecr, kms.logs, kms.data_bucket and kms.notifications must be keys in the account's region."
  }
}

variable "data_bucket" {
  description = "The account's data bucket (`batchform-<account>-data-<account id>`: private, versioned, TLS-only). Fan-out items, under `fan-out/<job>/`, expire `fan_out_expiry_days` after they are written (their noncurrent versions as long after they are replaced). `force_destroy` lets destroy delete what it holds (throwaway accounts only)."
  type = object({
    fan_out_expiry_days = optional(number, 7)
    force_destroy       = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.data_bucket.fan_out_expiry_days >= 1 && var.data_bucket.fan_out_expiry_days <= 3650 && floor(var.data_bucket.fan_out_expiry_days) == var.data_bucket.fan_out_expiry_days
    error_message = "data_bucket.fan_out_expiry_days must be a whole number of days from 1 to 3650."
  }
}

variable "images" {
  description = "Images this account runs, by ECR repository name, with the build number (41, 42, ...) deployed."
  type = map(object({
    build            = number
    keep_builds      = optional(number, 30)
    pull_account_ids = optional(list(string), [])
  }))
  default = {}

  validation {
    condition     = alltrue([for name, image in var.images : image.build >= 1 && floor(image.build) == image.build])
    error_message = "Every images.<name>.build must be a positive whole number (a build number such as 42)."
  }
}

variable "jobs" {
  description = "Job definitions this account registers; each names one of var.images. `secrets` maps variable names to ARNs of SSM parameters or Secrets Manager secrets (the execution role may read exactly those); `policy_statements` are the job role's Allow statements, without wildcard actions."
  type = map(object({
    image = string
    owner = optional(string)
    queue = optional(string, "default")
    # The share a submit uses by default when the queue has a fair-share policy.
    share_identifier = optional(string)
    # Its order within the share on a fair-share queue (1-9999; 1 there when not given): AWS
    # refuses a job with neither this nor a priority given at submit.
    scheduling_priority = optional(number)
    command             = optional(list(string), [])
    vcpus               = optional(number, 1)
    memory              = optional(number, 2048)
    environment         = optional(map(string), {})
    secrets             = optional(map(string), {})
    retry_attempts      = optional(number, 1)
    timeout_seconds     = optional(number, 3600)
    parameters          = optional(map(string), {})
    tags                = optional(map(string), {})
    # Retry only what is worth retrying, e.g. [{ action = "RETRY", on_status_reason = "Host EC2*" }, { action = "EXIT", on_reason = "*" }].
    evaluate_on_exit = optional(list(object({
      action           = string
      on_exit_code     = optional(string)
      on_reason        = optional(string)
      on_status_reason = optional(string)
    })), [])
    # What the job itself may do in AWS (its job role): Allow statements, no wildcard actions.
    policy_statements = optional(list(object({
      sid       = optional(string)
      actions   = list(string)
      resources = list(string)
    })), [])
    # Key prefixes ending in `/` the job reads and writes: in the account's data bucket
    # (inputs/), or in another bucket by ARN (arn:aws:s3:::bucket/prefix/); never a wildcard.
    reads  = optional(list(string), [])
    writes = optional(list(string), [])
    # Keys of var.tables the job uses; it gets <KEY>_TABLE with the table's name.
    tables = optional(list(string), [])
    # Fargate scratch storage in GiB (21-200), GPUs (EC2), EFS file systems to mount: the
    # batch-job-definitions module refuses what AWS Batch would.
    ephemeral_storage = optional(number)
    gpus              = optional(number)
    efs_volumes = optional(map(object({
      file_system_id  = string
      access_point_id = optional(string)
      container_path  = string
      read_only       = optional(bool, false)
    })), {})
    # Run it on a schedule: an EventBridge Scheduler expression (cron, rate or at) in an IANA time
    # zone; `enabled = false` pauses it. The batch-job-schedules module refuses what AWS would.
    schedule = optional(object({
      expression = string
      timezone   = optional(string, "UTC")
      enabled    = optional(bool, true)
    }))
  }))
  default = {}

  validation {
    condition = alltrue(flatten([
      for name, job in var.jobs : [
        for prefix in concat(job.reads, job.writes) : can(regex("^(arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/)?([A-Za-z0-9!_.'()-]+/)+$", prefix))
      ]
    ]))
    error_message = "Every jobs.<name>.reads and writes entry must be a key prefix ending in `/` (inputs/), or one in another bucket by ARN (arn:aws:s3:::bucket/prefix/): no `*`, no leading `/`, no empty segment."
  }

  validation {
    condition     = alltrue(flatten([for name, job in var.jobs : [for table in job.tables : contains(keys(var.tables), table)]]))
    error_message = "Every jobs.<name>.tables entry must name an entry of tables."
  }

  validation {
    condition     = alltrue([for name, job in var.jobs : contains(keys(var.images), job.image)])
    error_message = "Every jobs.<name>.image must name an entry of images."
  }

  validation {
    condition     = alltrue([for name, job in var.jobs : job.queue == "default" || contains(keys(var.queues), job.queue)])
    error_message = "Every jobs.<name>.queue must name one of the account's job queues: default or a key of queues."
  }

  validation {
    condition     = alltrue([for name, job in var.jobs : job.share_identifier == null || can(regex("^[A-Za-z0-9_]{1,255}$", job.share_identifier))])
    error_message = "Every jobs.<name>.share_identifier must be 1-255 letters, digits and underscores."
  }

  # SubmitJob: a queue without a fair-share policy refuses a share identifier.
  validation {
    condition     = alltrue([for name, job in var.jobs : job.scheduling_priority == null || try(job.scheduling_priority >= 1 && job.scheduling_priority <= 9999 && floor(job.scheduling_priority) == job.scheduling_priority, false)])
    error_message = "Every jobs.<name>.scheduling_priority must be a whole number from 1 to 9999 (the provider would leave a 0 out)."
  }

  validation {
    condition = alltrue([
      for name, job in var.jobs : job.share_identifier == null || (job.queue == "default" ? var.queue.fair_share != null : try(var.queues[job.queue].fair_share != null, true))
    ])
    error_message = "jobs.<name>.share_identifier needs a fair_share policy on the job's queue: a job queue without one refuses a share identifier."
  }

  validation {
    condition     = alltrue([for name, job in var.jobs : job.vcpus > 0 && job.memory >= 512])
    error_message = "Every jobs.<name>.vcpus must be positive and jobs.<name>.memory at least 512 (MiB)."
  }

  validation {
    condition = alltrue([
      for name, job in var.jobs : job.retry_attempts >= 1 && job.retry_attempts <= 10 && floor(job.retry_attempts) == job.retry_attempts
    ])
    error_message = "Every jobs.<name>.retry_attempts must be a whole number from 1 to 10 (the AWS Batch limits)."
  }

  validation {
    condition     = alltrue([for name, job in var.jobs : job.timeout_seconds >= 60])
    error_message = "Every jobs.<name>.timeout_seconds must be at least 60 (the AWS Batch minimum)."
  }

  # Secrets only by reference, so that the execution role can be granted exactly these ARNs.
  validation {
    condition = alltrue(flatten([
      for name, job in var.jobs : [
        for arn in values(job.secrets) : can(regex("^arn:aws[a-z-]*:ssm:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:parameter/[A-Za-z0-9_./-]+$|^arn:aws[a-z-]*:secretsmanager:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}(:[^:]*:[A-Za-z0-9_-]*:[A-Za-z0-9-]*)?$", arn))
      ]
    ]))
    error_message = "Every jobs.<name>.secrets value must be the full ARN of an SSM parameter (arn:aws:ssm:<region>:<account>:parameter/<name>) or of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>)."
  }

  # A schedule's runs are submitted with the job's share: a fair-share queue refuses one without.
  validation {
    condition = alltrue([
      for name, job in var.jobs : job.schedule == null || job.share_identifier != null || (job.queue == "default" ? var.queue.fair_share == null : try(var.queues[job.queue].fair_share == null, true))
    ])
    error_message = "jobs.<name>.schedule on a queue with a fair_share policy needs jobs.<name>.share_identifier: the queue refuses a job without a share."
  }

  validation {
    condition = alltrue(flatten([
      for name, job in var.jobs : [for s in job.policy_statements : [for action in s.actions : !strcontains(action, "*") && !strcontains(action, "?")]]
    ]))
    error_message = "Every jobs.<name>.policy_statements actions entry must be one `service:Action` name without a wildcard (no `*`, `s3:*` or `s3:Get*`): list each action the job needs."
  }
}

variable "tables" {
  description = "The account's DynamoDB tables (named batchform-<account>-<key>; encrypted, point-in-time recovery on, billed per request), for jobs that keep state, such as the async-operation image's. `hash_key` is the string partition key (default id), `range_key` an optional string sort key, `ttl_attribute` turns on expiry by that attribute. `deletion_protection` (default true) must be turned off, and applied, before a destroy can delete the table."
  type = map(object({
    hash_key            = optional(string, "id")
    range_key           = optional(string)
    ttl_attribute       = optional(string)
    deletion_protection = optional(bool, true)
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for key in keys(var.tables) : can(regex("^[a-z][a-z0-9_-]{0,63}$", key))])
    error_message = "Every tables key must be 1-64 lowercase letters, digits, - and _, starting with a letter (it names the table and the jobs' <KEY>_TABLE variable)."
  }

  validation {
    condition = alltrue(flatten([
      for key, table in var.tables : [
        for attribute in compact([table.hash_key, table.range_key, table.ttl_attribute]) : length(attribute) >= 1 && length(attribute) <= 255
      ]
    ]))
    error_message = "Every tables.<key>.hash_key, range_key and ttl_attribute must be 1-255 characters."
  }
}

variable "notifications" {
  description = "Tell of the jobs of the account's queues that end in `statuses` (FAILED by default; FAILED and SUCCEEDED are the final ones): an EventBridge rule turns each state change into a message (the job, its id, the account's names, the exit code, the reason, the jobs.logs command) on an SNS topic encrypted with `kms.notifications` or a key made for it, to which `email` addresses, `https` URLs and `sqs` queue ARNs subscribe (email and https must confirm). Null: none."
  type = object({
    statuses = optional(list(string), ["FAILED"])
    email    = optional(list(string), [])
    https    = optional(list(string), [])
    sqs      = optional(list(string), [])
  })
  default = null

  validation {
    condition     = var.notifications == null ? true : length(var.notifications.statuses) >= 1 && alltrue([for status in var.notifications.statuses : contains(["FAILED", "SUCCEEDED"], status)])
    error_message = "notifications.statuses must list FAILED, SUCCEEDED or both (a job's final states)."
  }
}

variable "log_retention_days" {
  description = "How long the jobs' CloudWatch log groups keep events, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "force_delete_repositories" {
  description = "Let destroy delete ECR repositories that still hold images (throwaway accounts only)."
  type        = bool
  default     = false
}
