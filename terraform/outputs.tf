output "account" {
  description = "Name and id of the account these outputs describe."
  value       = { name = var.account_name, id = var.account_id, region = var.region }
}

output "image_repositories" {
  description = "Image name => repository that images are pushed to and pulled from (no tag)."
  value       = local.image_repositories
}

output "repository_arns" {
  description = "Image name => ECR repository ARN."
  value       = { for name, repository in module.ecr : name => repository.repository_arn }
}

output "deployed_images" {
  description = "Image name => full reference (repository:build) that the job definitions run."
  value       = local.image_references
}

output "job_queue_arns" {
  description = "Queue name => job queue ARN."
  value       = { for name, queue in module.job_queues : name => queue.arn }
}

output "queues" {
  description = "Queue name => what a submit to it needs: its ARN, whether it has a fair-share policy (a submit must then name a share), where its jobs run (FARGATE or EC2), and the most vCPUs a job may ask for (its largest compute environment's max_vcpus: more waits in RUNNABLE for good)."
  value = {
    for name, queue in module.job_queues : name => {
      arn        = queue.arn
      fair_share = local.queues[name].fair_share != null
      platform   = local.queue_platforms[name]
      max_vcpus  = local.queue_max_vcpus[name]
    }
  }
}

output "job_definition_arns" {
  description = "Job name => job definition ARN, with revision."
  value       = module.job_definitions.arns
}

output "job_definition_arn_prefixes" {
  description = "Job name => job definition ARN without revision (follows the latest revision)."
  value       = module.job_definitions.arn_prefixes
}

output "log_group_names" {
  description = "Job name => CloudWatch log group name."
  value       = local.log_group_names
}

output "data_bucket" {
  description = "Name of the account's data bucket; a job's fan-out items go under its jobs[<name>].items_prefix."
  value       = module.data_bucket.name
}

output "tables" {
  description = "Table key => the account's DynamoDB table: its name and its partition key (hash_key)."
  value       = { for key, table in module.tables : key => { name = table.name, hash_key = table.hash_key } }
}

output "jobs" {
  description = "Job name => where it runs: job definition ARN without revision, job queue ARN, log group name; items_prefix (the key prefix of its fan-out items in data_bucket, which its role may read); tags (the job definition's, with the provider's default tags); queue_name; fair_share (whether its queue has a fair-share policy, so a submit must name a share) and share_identifier (its default share, or null); platform (FARGATE or EC2, as its queue's compute) and max_vcpus (the most its queue's compute environments can run), vcpus and memory (what its definition asks for, which a submit's overrides are checked against)."
  value = {
    for name, job in var.jobs : name => {
      definition       = module.job_definitions.arn_prefixes[name]
      queue            = module.job_queues[job.queue].arn
      queue_name       = job.queue
      log_group        = local.log_group_names[name]
      items_prefix     = "${module.data_bucket.fan_out_prefix}${name}/"
      tags             = module.job_definitions.tags_all[name]
      fair_share       = local.queues[job.queue].fair_share != null
      platform         = local.queue_platforms[job.queue]
      max_vcpus        = local.queue_max_vcpus[job.queue]
      vcpus            = job.vcpus
      memory           = job.memory
      share_identifier = job.share_identifier
    }
  }
}

output "schedules" {
  description = "Job name => its schedule: name and ARN, expression, time zone and whether it is enabled, and what each run submits (input: JobName, JobQueue, JobDefinition, ShareIdentifier, Tags, PropagateTags); dead_letter_queue_url holds the runs that could not be submitted."
  value = {
    for name, job in local.scheduled_jobs : name => {
      name                  = module.schedules.names[name]
      arn                   = module.schedules.arns[name]
      expression            = job.schedule.expression
      timezone              = job.schedule.timezone
      enabled               = job.schedule.enabled
      input                 = module.schedules.inputs[name]
      dead_letter_queue_url = module.schedules.dead_letter_queue_url
    }
  }
}

output "notifications" {
  description = "The notifications' SNS topic, EventBridge rule and KMS key (ARNs), and the statuses told; null when the account declares none."
  value = var.notifications == null ? null : {
    topic_arn   = module.notifications[0].topic_arn
    rule_arn    = module.notifications[0].rule_arn
    kms_key_arn = module.notifications[0].kms_key_arn
    statuses    = var.notifications.statuses
  }
}
