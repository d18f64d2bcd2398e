locals {
  name = "batchform-${var.account_name}"

  # One build number per image, joined to its repository here and nowhere else.
  image_repositories = {
    for name, repository in module.ecr : name => (
      var.image_registry == null ? repository.repository_url : "${var.image_registry}/${name}"
    )
  }
  image_references = {
    for name, image in var.images : name => "${local.image_repositories[name]}:${image.build}"
  }

  log_group_names = { for name, job in var.jobs : name => "/batchform/${var.account_name}/${name}" }

  # Known when planning, so the job roles' policies can be decided before the bucket exists.
  data_bucket     = "${local.name}-data-${var.account_id}"
  data_bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${local.data_bucket}"
  table_names     = { for key, table in var.tables : key => "${local.name}-${key}" }
}

data "aws_partition" "current" {}

# ---- Network: the account's own, or the default VPC -------------------------------------

data "aws_vpc" "default" {
  count   = var.network.vpc_id == null ? 1 : 0
  default = true
}

locals {
  vpc_id = coalesce(var.network.vpc_id, try(data.aws_vpc.default[0].id, null))

  # Batch NetworkConfiguration: a Fargate task needs a NAT gateway or a public IP to pull its
  # image, and assignPublicIp defaults to DISABLED. The default VPC's subnets are public and
  # have no NAT gateway: there the public IP is on (a variable validation refuses it off).
  assign_public_ip = coalesce(var.network.assign_public_ip, var.network.vpc_id == null)
}

data "aws_subnets" "default" {
  count = length(var.network.subnet_ids) == 0 ? 1 : 0

  filter {
    name   = "vpc-id"
    values = [local.vpc_id]
  }
}

locals {
  subnet_ids = length(var.network.subnet_ids) > 0 ? var.network.subnet_ids : sort(data.aws_subnets.default[0].ids)
}

# ---- Images ---------------------------------------------------------------------------

module "ecr" {
  source   = "../modules/ecr-repository"
  for_each = var.images

  name             = each.key
  keep_builds      = each.value.keep_builds
  pull_account_ids = each.value.pull_account_ids
  force_delete     = var.force_delete_repositories
  kms_key_arn      = var.kms.ecr
  # The build the account declares, and deploys, is never expired by "keep the last N".
  protected_tags = [tostring(each.value.build)]
}

# ---- Data: the account's bucket, with each job's fan-out items under fan-out/<job>/ -------

module "data_bucket" {
  source = "../modules/data-bucket"

  name                = local.data_bucket
  kms_key_arn         = var.kms.data_bucket
  fan_out_expiry_days = var.data_bucket.fan_out_expiry_days
  force_destroy       = var.data_bucket.force_destroy
}

# ---- Tables: state the jobs keep, such as the async operations' outcomes -----------------

module "tables" {
  source   = "../modules/dynamodb-table"
  for_each = var.tables

  name                = local.table_names[each.key]
  hash_key            = each.value.hash_key
  range_key           = each.value.range_key
  ttl_attribute       = each.value.ttl_attribute
  deletion_protection = each.value.deletion_protection
}

# ---- Compute ----------------------------------------------------------------------------

module "batch_environment" {
  source = "../modules/batch-environment"

  name       = local.name
  vpc_id     = local.vpc_id
  subnet_ids = local.subnet_ids

  additional_security_group_ids = var.network.security_group_ids

  compute_environments = {
    for name, ce in merge({ main = var.compute }, var.compute_environments) : name => {
      type                = ce.type
      max_vcpus           = ce.max_vcpus
      min_vcpus           = ce.min_vcpus
      instance_types      = ce.instance_types
      allocation_strategy = ce.allocation_strategy
    }
  }
}

locals {
  # What a queue cancels unless it says otherwise: a job no compute environment can ever run,
  # after 10 minutes; one waiting on instance capacity, after 4 hours.
  default_time_limits = {
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE" = 600
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"         = 600
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"           = 14400
  }
  queues         = { for name, queue in merge({ default = var.queue }, var.queues) : name => merge(queue, { time_limits = coalesce(queue.time_limits, local.default_time_limits) }) }
  any_fair_share = anytrue([for queue in values(local.queues) : queue.fair_share != null])
  # A job runs on Fargate or EC2 as the first compute environment of its queue does (a queue's
  # environments are all of one kind).
  compute_types   = merge({ main = var.compute.type }, { for name, ce in var.compute_environments : name => ce.type })
  queue_platforms = { for name, queue in local.queues : name => startswith(local.compute_types[queue.compute_environments[0]], "FARGATE") ? "FARGATE" : "EC2" }
  # The most vCPUs a job of a queue may ask for: what its largest compute environment can run.
  compute_max_vcpus = merge({ main = var.compute.max_vcpus }, { for name, ce in var.compute_environments : name => ce.max_vcpus })
  queue_max_vcpus   = { for name, queue in local.queues : name => max([for ce in queue.compute_environments : local.compute_max_vcpus[ce]]...) }
}

module "job_queues" {
  source   = "../modules/batch-job-queue"
  for_each = local.queues

  name                     = "${local.name}-${each.key}"
  priority                 = each.value.priority
  compute_environment_arns = [for ce in each.value.compute_environments : module.batch_environment.compute_environment_arns[ce]]

  fair_share_policy = each.value.fair_share == null ? null : {
    compute_reservation = each.value.fair_share.compute_reservation
    share_decay_seconds = each.value.fair_share.share_decay_seconds
    share_distribution = [
      for id in sort(keys(each.value.fair_share.shares)) : { share_identifier = id, weight_factor = each.value.fair_share.shares[id] }
    ]
  }

  job_state_time_limit_actions = [
    for reason in sort(keys(each.value.time_limits)) : { reason = reason, max_time_seconds = each.value.time_limits[reason] }
  ]
}

# The account's one queue, before it could have several.
moved {
  from = module.job_queue
  to   = module.job_queues["default"]
}

# ---- Jobs -------------------------------------------------------------------------------

module "log_groups" {
  source = "../modules/log-groups"

  names             = toset(values(local.log_group_names))
  retention_in_days = var.log_retention_days
  kms_key_arn       = var.kms.logs
}

module "job_definitions" {
  source = "../modules/batch-job-definitions"

  name_prefix      = "${local.name}-"
  region           = var.region
  repository_arns  = [for repository in module.ecr : repository.repository_arn]
  assign_public_ip = local.assign_public_ip

  secrets_kms_key_arns = var.kms.secrets
  items_bucket         = local.data_bucket
  items_prefix         = module.data_bucket.fan_out_prefix
  items_kms_key_arn    = var.kms.data_bucket

  jobs = {
    for name, job in var.jobs : name => {
      image   = local.image_references[job.image]
      command = job.command
      vcpus   = job.vcpus
      memory  = job.memory
      # Where its data is, so the same command runs in every account: DATA_BUCKET, and
      # <KEY>_TABLE for each table it uses; its own environment wins.
      environment = merge(
        { DATA_BUCKET = local.data_bucket },
        { for table in job.tables : "${upper(replace(table, "-", "_"))}_TABLE" => local.table_names[table] },
        job.environment,
      )
      secrets         = job.secrets
      retry_attempts  = job.retry_attempts
      timeout_seconds = job.timeout_seconds
      parameters      = job.parameters
      platform        = local.queue_platforms[job.queue]
      log_group_name  = module.log_groups.names[local.log_group_names[name]]
      tags            = merge(job.tags, { "batchform:image" = job.image }, job.owner == null ? {} : { "batchform:owner" = job.owner })
      # A fair-share queue refuses a job without a scheduling priority ("Either schedulingPriority
      # in job definition or schedulingPriorityOverride should be specified"): 1 unless declared
      # (the provider leaves a 0 out of the request, as if unset), for every job of an account
      # with such a queue, as any job may be sent there (submit --queue); a FIFO queue ignores it.
      scheduling_priority = local.any_fair_share ? coalesce(job.scheduling_priority, 1) : job.scheduling_priority

      evaluate_on_exit           = job.evaluate_on_exit
      job_role_policy_statements = job.policy_statements
      read_prefix_arns           = [for prefix in job.reads : startswith(prefix, "arn:") ? prefix : "${local.data_bucket_arn}/${prefix}"]
      write_prefix_arns          = [for prefix in job.writes : startswith(prefix, "arn:") ? prefix : "${local.data_bucket_arn}/${prefix}"]
      ephemeral_storage_gib      = job.ephemeral_storage
      gpus                       = job.gpus
      efs_volumes                = job.efs_volumes
      table_arns = [
        for table in job.tables : "arn:${data.aws_partition.current.partition}:dynamodb:${var.region}:${var.account_id}:table/${local.table_names[table]}"
      ]
    }
  }
}

# ---- Schedules: jobs run by EventBridge Scheduler, submitted as `submit` sends them ---------

locals {
  scheduled_jobs = { for name, job in var.jobs : name => job if job.schedule != null }
  schedule_names = { for name, job in local.scheduled_jobs : name => "${local.name}-${name}" }
  # A fair-share queue's jobs go with the job's share, as `submit` sends them by default.
  schedule_shares = { for name, job in local.scheduled_jobs : name => local.queues[job.queue].fair_share == null ? null : job.share_identifier }
  # Each run carries the tags `submit` gives a job (batchform.jobs): the schedule that started it
  # (batchform:schedule, which jobs.list shows) and the token submit derives for that very request
  # (request_token: the account, the job with no overrides but its share, that tag), so a
  # scheduled job is traced like a submitted one.
  schedule_tokens = {
    for name, schedule in local.schedule_names : name => substr(sha256(jsonencode(merge(
      {
        account = var.account_id, array_size = null, command = null, depends_on = [], env = [], items = null,
        job     = name, params = [], retries = null, tags = [["batchform:schedule", schedule]], timeout = null
      },
      local.schedule_shares[name] == null ? {} : { share = local.schedule_shares[name] },
    ))), 0, 32)
  }
}

module "schedules" {
  source = "../modules/batch-job-schedules"

  name_prefix = "${local.name}-"

  schedules = {
    for name, job in local.scheduled_jobs : name => {
      expression         = job.schedule.expression
      timezone           = job.schedule.timezone
      enabled            = job.schedule.enabled
      job_queue_arn      = module.job_queues[job.queue].arn
      job_definition_arn = module.job_definitions.arn_prefixes[name]
      share_identifier   = local.schedule_shares[name]
      tags               = { "batchform:schedule" = local.schedule_names[name], "batchform:token" = local.schedule_tokens[name] }
    }
  }
}

# ---- Notifications: the account's jobs that fail (or succeed), told to its subscribers -------

module "notifications" {
  source = "../modules/batch-job-notifications"
  count  = var.notifications == null ? 0 : 1

  name           = "${local.name}-job-events"
  account_name   = var.account_name
  job_queue_arns = [for queue in module.job_queues : queue.arn]
  statuses       = var.notifications.statuses
  kms_key_arn    = var.kms.notifications

  subscribers = {
    email = var.notifications.email
    https = var.notifications.https
    sqs   = var.notifications.sqs
  }
}
