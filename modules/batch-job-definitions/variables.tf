variable "name_prefix" {
  description = "Prefix prepended to every job definition name (`<name_prefix><job key>`) and used for the IAM role names; letters, digits, hyphens and underscores, at most 64 characters. Use it to keep deployments sharing an account apart."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{0,64}$", var.name_prefix))
    error_message = "name_prefix must be at most 64 letters, digits, hyphens or underscores."
  }
}

variable "jobs" {
  description = <<-EOT
    Job definitions to register, keyed by job name (letters, digits, hyphens, underscores).
    `image` is a full reference with an explicit tag or digest (`<registry>/<repo>:<build>`); changing only the image registers exactly one new revision of that job definition.
    `vcpus`/`memory` (MiB) must form a valid Fargate combination when `platform` is FARGATE (vcpus 0.25, 0.5, 1, 2, 4, 8 or 16); EC2 jobs take whole vCPUs.
    `environment` holds plain variables; `secrets` maps variable names to SSM parameter or Secrets Manager secret ARNs (never put secrets in `environment`).
    `retry_attempts` is 1-10, `evaluate_on_exit` at most 5 conditions (action RETRY or EXIT), `timeout_seconds` at least 60.
    `scheduling_priority` (1-9999; the provider leaves a 0 out, as if unset) orders the job within its share on a fair-share queue, which refuses a job that has neither it nor a priority given at submit.
    `log_group_name` must name an existing log group (e.g. from the log-groups module) in `region`.
    `job_role_policy_statements` are Allow statements for the job's own role (no `*` in any action).
    `read_prefix_arns` and `write_prefix_arns` are S3 key prefixes as ARNs ending in `/` (`arn:aws:s3:::<bucket>/<prefix>/`, never a wildcard): the job's role may get and list (`read`) or put (`write`) objects under exactly those; with `items_kms_key_arn`, writes in `items_bucket` may also encrypt with that key.
    `table_arns` are DynamoDB tables whose items the job's role may get, query, put and update.
    `ephemeral_storage_gib` (21-200, Fargate only) sizes the task's scratch storage (20 GiB without it); `gpus` (1-64, EC2 only) reserves GPUs.
    `efs_volumes` mount EFS file systems, by volume name: `file_system_id`, an optional `access_point_id` (then the file system's root is the access point's), `container_path` (absolute), `read_only`. Transit encryption and IAM authorization are always on: the job's role may mount (and, unless read-only, write) exactly those file systems, through exactly that access point.
  EOT
  type = map(object({
    image            = string
    command          = optional(list(string), [])
    vcpus            = optional(number, 1)
    memory           = optional(number, 2048)
    environment      = optional(map(string), {})
    secrets          = optional(map(string), {})
    retry_attempts   = optional(number, 1)
    evaluate_on_exit = optional(list(object({ action = string, on_exit_code = optional(string), on_reason = optional(string), on_status_reason = optional(string) })), [])
    timeout_seconds  = optional(number, 3600)
    platform         = optional(string, "FARGATE")
    log_group_name   = string
    parameters       = optional(map(string), {})
    job_role_policy_statements = optional(list(object({
      sid       = optional(string)
      actions   = list(string)
      resources = list(string)
    })), [])
    tags                  = optional(map(string), {})
    scheduling_priority   = optional(number)
    read_prefix_arns      = optional(list(string), [])
    write_prefix_arns     = optional(list(string), [])
    table_arns            = optional(list(string), [])
    ephemeral_storage_gib = optional(number)
    gpus                  = optional(number)
    efs_volumes = optional(map(object({
      file_system_id  = string
      access_point_id = optional(string)
      container_path  = string
      read_only       = optional(bool, false)
    })), {})
  }))
  nullable = false

  validation {
    condition = alltrue([
      for k, j in var.jobs : j.ephemeral_storage_gib == null || try(j.platform == "FARGATE" && j.ephemeral_storage_gib >= 21 && j.ephemeral_storage_gib <= 200 && floor(j.ephemeral_storage_gib) == j.ephemeral_storage_gib, false)
    ])
    error_message = "ephemeral_storage_gib must be a whole number of GiB from 21 to 200, and only for FARGATE jobs (EC2 jobs use the instance's storage)."
  }

  validation {
    condition = alltrue([
      for k, j in var.jobs : j.gpus == null || try(j.platform == "EC2" && j.gpus >= 1 && j.gpus <= 64 && floor(j.gpus) == j.gpus, false)
    ])
    error_message = "gpus must be a whole number from 1 to 64, and only for EC2 jobs (Fargate has no GPUs)."
  }

  validation {
    condition = alltrue(flatten([
      for k, j in var.jobs : [
        for name, v in j.efs_volumes : can(regex("^[A-Za-z0-9_-]{1,255}$", name)) && can(regex("^fs-[0-9a-f]{8,40}$", v.file_system_id)) &&
        (v.access_point_id == null || can(regex("^fsap-[0-9a-f]{8,40}$", v.access_point_id))) && can(regex("^/[^\\s]*$", v.container_path)) && v.container_path != "/"
      ]
    ]))
    error_message = "Each efs_volumes entry needs a name of letters, digits, - and _, a file_system_id fs-<hex>, an optional access_point_id fsap-<hex>, and an absolute container_path other than /."
  }

  validation {
    condition = alltrue(flatten([
      for k, j in var.jobs : [
        for arn in concat(j.read_prefix_arns, j.write_prefix_arns) : can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/([A-Za-z0-9!_.'()-]+/)+$", arn))
      ]
    ]))
    error_message = "Each read_prefix_arns and write_prefix_arns entry must be an S3 key prefix as an ARN ending in `/` (arn:aws:s3:::<bucket>/<prefix>/): a bucket and at least one path segment, no `*`, no empty segment."
  }

  validation {
    condition = alltrue(flatten([
      for k, j in var.jobs : [for arn in j.table_arns : can(regex("^arn:aws[a-z-]*:dynamodb:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$", arn))]
    ]))
    error_message = "Each table_arns entry must be a DynamoDB table ARN (arn:aws:dynamodb:<region>:<account>:table/<name>)."
  }

  validation {
    condition     = alltrue([for k, j in var.jobs : j.scheduling_priority == null || try(j.scheduling_priority >= 1 && j.scheduling_priority <= 9999 && floor(j.scheduling_priority) == j.scheduling_priority, false)])
    error_message = "scheduling_priority must be a whole number from 1 to 9999 (the provider would leave a 0 out)."
  }

  validation {
    condition     = length(var.jobs) >= 1
    error_message = "jobs must contain at least one job definition."
  }

  validation {
    condition     = alltrue([for k, j in var.jobs : can(regex("^[A-Za-z0-9_-]{1,128}$", k))])
    error_message = "Each jobs key must be 1-128 letters, digits, hyphens or underscores (it becomes the job definition name)."
  }

  validation {
    condition = alltrue([
      for k, j in var.jobs : length(j.image) <= 255 && can(regex("^([A-Za-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$", j.image))
    ])
    error_message = "Each job image must be a full image reference of at most 255 characters with an explicit tag or digest, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo:42."
  }

  validation {
    condition     = alltrue([for k, j in var.jobs : contains(["FARGATE", "EC2"], j.platform)])
    error_message = "Each job platform must be FARGATE or EC2."
  }

  validation {
    condition = alltrue([
      for k, j in var.jobs : j.platform == "FARGATE" ? contains([0.25, 0.5, 1, 2, 4, 8, 16], j.vcpus) : (j.vcpus >= 1 && floor(j.vcpus) == j.vcpus)
    ])
    error_message = "vcpus must be greater than 0: one of 0.25, 0.5, 1, 2, 4, 8 or 16 for FARGATE jobs, a whole number for EC2 jobs."
  }

  validation {
    condition     = alltrue([for k, j in var.jobs : j.memory >= 512 && floor(j.memory) == j.memory])
    error_message = "memory must be a whole number of MiB, at least 512."
  }

  validation {
    condition = alltrue([
      for k, j in var.jobs : j.platform != "FARGATE" || contains(lookup({
        "0.25" = [512, 1024, 2048]
        "0.5"  = range(1024, 4097, 1024)
        "1"    = range(2048, 8193, 1024)
        "2"    = range(4096, 16385, 1024)
        "4"    = range(8192, 30721, 1024)
        "8"    = range(16384, 61441, 4096)
        "16"   = range(32768, 122881, 8192)
      }, tostring(j.vcpus), []), j.memory)
    ])
    error_message = "FARGATE jobs need a supported vCPU/memory pair: 0.25 vCPU 512/1024/2048 MiB; 0.5 vCPU 1024-4096; 1 vCPU 2048-8192; 2 vCPU 4096-16384; 4 vCPU 8192-30720 (1024 steps); 8 vCPU 16384-61440 (4096 steps); 16 vCPU 32768-122880 (8192 steps)."
  }

  validation {
    condition = alltrue(flatten([
      for k, j in var.jobs : [
        for name in concat(keys(j.environment), keys(j.secrets)) : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", name)) && !startswith(name, "AWS_BATCH")
      ]
    ]))
    error_message = "Environment and secret variable names must match ^[A-Za-z_][A-Za-z0-9_]*$ and must not start with AWS_BATCH (reserved by AWS Batch)."
  }

  validation {
    condition     = alltrue([for k, j in var.jobs : length(setintersection(keys(j.environment), keys(j.secrets))) == 0])
    error_message = "A variable name cannot be both in environment and in secrets."
  }

  validation {
    condition = alltrue(flatten([
      for k, j in var.jobs : [
        for arn in values(j.secrets) : can(regex("^arn:aws[a-z-]*:ssm:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:parameter/[A-Za-z0-9_./-]+$|^arn:aws[a-z-]*:secretsmanager:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}(:[^:]*:[A-Za-z0-9_-]*:[A-Za-z0-9-]*)?$", arn))
      ]
    ]))
    error_message = "Each jobs.<key>.secrets value must be the full ARN of an SSM parameter (arn:aws:ssm:<region>:<account>:parameter/<name>) or of a Secrets Manager secret including the 6-character suffix IAM matches on (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf, optionally followed by :json-key:version-stage:version-id)."
  }

  validation {
    condition     = alltrue([for k, j in var.jobs : j.retry_attempts >= 1 && j.retry_attempts <= 10 && floor(j.retry_attempts) == j.retry_attempts])
    error_message = "retry_attempts must be a whole number between 1 and 10."
  }

  validation {
    condition = alltrue([
      for k, j in var.jobs : length(j.evaluate_on_exit) <= 5 && alltrue([for e in j.evaluate_on_exit : contains(["RETRY", "EXIT"], e.action)])
    ])
    error_message = "evaluate_on_exit takes at most 5 conditions, each with action RETRY or EXIT."
  }

  validation {
    condition = alltrue(flatten([
      for k, j in var.jobs : [
        for e in j.evaluate_on_exit : [
          e.on_exit_code == null ? true : (length(e.on_exit_code) >= 1 && length(e.on_exit_code) <= 512 && can(regex("^[0-9]*\\*?$", e.on_exit_code))),
          e.on_reason == null ? true : (length(e.on_reason) >= 1 && length(e.on_reason) <= 512 && can(regex("^[0-9A-Za-z.:\\s]*\\*?$", e.on_reason))),
          e.on_status_reason == null ? true : (length(e.on_status_reason) >= 1 && length(e.on_status_reason) <= 512 && can(regex("^[0-9A-Za-z.:\\s]*\\*?$", e.on_status_reason))),
        ]
      ]
    ]))
    error_message = "evaluate_on_exit: on_exit_code must be digits optionally ending in `*`; on_reason and on_status_reason letters, digits, `.`, `:` and white space optionally ending in `*` (1-512 characters)."
  }

  validation {
    condition     = alltrue([for k, j in var.jobs : j.timeout_seconds >= 60 && floor(j.timeout_seconds) == j.timeout_seconds])
    error_message = "timeout_seconds must be a whole number of at least 60."
  }

  validation {
    condition = alltrue([
      for k, j in var.jobs : length(j.log_group_name) <= 512 && can(regex("^[A-Za-z0-9_/.#-]+$", j.log_group_name))
    ])
    error_message = "Each log_group_name must be a CloudWatch log group name (1-512 characters of letters, digits, `_`, `-`, `/`, `.` or `#`)."
  }

  validation {
    condition = alltrue(flatten([
      for k, j in var.jobs : [
        for s in j.job_role_policy_statements : length(s.actions) >= 1 && alltrue([
          for a in s.actions : can(regex("^[a-z0-9-]+:[A-Za-z0-9]+$", a))
        ])
      ]
    ]))
    error_message = "Each jobs.<key>.job_role_policy_statements actions entry must be one `service:Action` name: no `*` anywhere in it (not `*`, `s3:*` nor `s3:Get*`), so that the job role is granted exactly the actions listed (least privilege)."
  }

  validation {
    condition = alltrue(flatten([
      for k, j in var.jobs : [
        for s in j.job_role_policy_statements : length(s.resources) >= 1 && alltrue([for r in s.resources : r == "*" || startswith(r, "arn:")])
      ]
    ]))
    error_message = "job_role_policy_statements resources must be non-empty lists of ARNs (or `*` only for actions without resource-level permissions)."
  }

  validation {
    condition = alltrue([
      for k, j in var.jobs : alltrue([for s in j.job_role_policy_statements : s.sid == null ? true : can(regex("^[A-Za-z0-9]+$", s.sid))]) &&
      length(compact([for s in j.job_role_policy_statements : s.sid])) == length(distinct(compact([for s in j.job_role_policy_statements : s.sid])))
    ])
    error_message = "job_role_policy_statements sid values must be alphanumeric and unique within a job."
  }
}

variable "region" {
  description = "AWS region of the job definitions and log groups (used for the awslogs driver and to scope the log permissions)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "repository_arns" {
  description = "ARNs of the ECR repositories the task execution role may pull from. Leave empty when images come from a registry that needs no IAM (no ECR permissions are granted then)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.repository_arns : can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/.+$", arn))])
    error_message = "Each repository_arns entry must be an ECR repository ARN (arn:aws:ecr:<region>:<account>:repository/<name>)."
  }
}

variable "secrets_kms_key_arns" {
  description = "ARNs of customer-managed KMS keys that encrypt the referenced SSM parameters or secrets; the execution role gets kms:Decrypt on exactly these keys, and only when a job references a secret. Not needed for the AWS-managed keys."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.secrets_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", arn))])
    error_message = "Each secrets_kms_key_arns entry must be a KMS key ARN (not an alias)."
  }
}

variable "items_bucket" {
  description = "Name of the bucket holding the jobs' fan-out items. When set, each job's role may read (s3:GetObject) exactly its own items, `<items_prefix><job key>/*`; null grants nothing. A name rather than an ARN, so that it is known when planning the first apply (it decides which job roles get a policy)."
  type        = string
  default     = null

  validation {
    condition     = var.items_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.items_bucket))
    error_message = "items_bucket must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens), or null."
  }
}

variable "items_prefix" {
  description = "Key prefix of the fan-out items in items_bucket; a job's items are under `<items_prefix><job key>/`."
  type        = string
  default     = "fan-out/"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.items_prefix)) && !strcontains(var.items_prefix, "*")
    error_message = "items_prefix must be a key prefix ending in `/`, without a leading `/`, empty segments or `*` (e.g. fan-out/)."
  }
}

variable "items_kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the items bucket, if any: each job's role gets kms:Decrypt on it to read its items."
  type        = string
  default     = null

  validation {
    condition     = var.items_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.items_kms_key_arn))
    error_message = "items_kms_key_arn must be a KMS key ARN (arn:aws[-partition]:kms:<region>:<account>:key/<key-id>), not an alias."
  }
}

variable "assign_public_ip" {
  description = "Whether Fargate jobs get a public IP (needed only in public subnets without a NAT gateway)."
  type        = bool
  default     = false
  nullable    = false
}

variable "deregister_on_new_revision" {
  description = "Whether registering a new revision deregisters (makes INACTIVE) the previous one. Anything pinned to an old revision ARN breaks when true: reference `arn_prefixes` to follow the latest revision."
  type        = bool
  default     = true
  nullable    = false
}

variable "tags" {
  description = "Tags applied to every taggable resource of the module (merged under each job's own tags)."
  type        = map(string)
  default     = {}
  nullable    = false
}
