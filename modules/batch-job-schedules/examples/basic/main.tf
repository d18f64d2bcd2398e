# A Fargate job run every night at 03:00 Paris time, and another every six hours, on a queue
# made with the sibling modules in the default VPC. Each run is submitted as `submit` would
# send it; a run that cannot be submitted ends in the dead-letter queue.

provider "aws" {
  region = "us-east-1"
}

data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }
}

module "environment" {
  source = "../../../batch-environment"

  name       = "batchform-schedules-example"
  vpc_id     = data.aws_vpc.default.id
  subnet_ids = slice(sort(data.aws_subnets.default.ids), 0, min(2, length(data.aws_subnets.default.ids)))

  compute_environments = {
    main = { type = "FARGATE", max_vcpus = 4 }
  }
}

module "queue" {
  source = "../../../batch-job-queue"

  name                     = "batchform-schedules-example"
  compute_environment_arns = [module.environment.compute_environment_arns["main"]]
}

module "log_groups" {
  source = "../../../log-groups"

  names             = ["/batchform/schedules-example/report"]
  retention_in_days = 7
}

module "job_definitions" {
  source = "../../../batch-job-definitions"

  name_prefix      = "batchform-schedules-example-"
  region           = "us-east-1"
  assign_public_ip = true # the default VPC's subnets have no NAT gateway

  jobs = {
    report = {
      image          = "public.ecr.aws/docker/library/busybox:1.36"
      command        = ["echo", "nightly report"]
      vcpus          = 0.25
      memory         = 512
      log_group_name = module.log_groups.names["/batchform/schedules-example/report"]
    }
  }
}

module "schedules" {
  source = "../.."

  name_prefix = "batchform-example-"

  schedules = {
    nightly-report = {
      expression         = "cron(0 3 * * ? *)"
      timezone           = "Europe/Paris"
      job_queue_arn      = module.queue.arn
      job_definition_arn = module.job_definitions.arn_prefixes["report"]
      tags               = { "batchform:schedule" = "batchform-example-nightly-report" }
    }
    report-every-six-hours = {
      expression         = "rate(6 hours)"
      enabled            = false # paused
      job_queue_arn      = module.queue.arn
      job_definition_arn = module.job_definitions.arn_prefixes["report"]
      job_name           = "report"
    }
  }

  retry_policy = { maximum_retry_attempts = 5, maximum_event_age_in_seconds = 7200 }

  tags = {
    Project = "batchform"
    Example = "batch-job-schedules"
  }
}

output "schedule_arns" {
  description = "The schedules."
  value       = module.schedules.arns
}

output "inputs" {
  description = "What each run submits."
  value       = module.schedules.inputs
}

output "dead_letter_queue_url" {
  description = "Where the runs that could not be submitted are kept."
  value       = module.schedules.dead_letter_queue_url
}
