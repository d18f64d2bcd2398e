# Mail the team when a job of the queue fails, and post failed and succeeded jobs to a queue of
# the account, through an encrypted topic (the module makes its key).

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

  name       = "batchform-notifications-example"
  vpc_id     = data.aws_vpc.default.id
  subnet_ids = slice(sort(data.aws_subnets.default.ids), 0, min(2, length(data.aws_subnets.default.ids)))

  compute_environments = {
    main = { type = "FARGATE", max_vcpus = 4 }
  }
}

module "queue" {
  source = "../../../batch-job-queue"

  name                     = "batchform-notifications-example"
  compute_environment_arns = [module.environment.compute_environment_arns["main"]]
}

module "failures" {
  source = "../.."

  name           = "batchform-example-job-failures"
  account_name   = "example"
  job_queue_arns = [module.queue.arn]

  subscribers = {
    email = ["batch-team@example.com"] # pending until the mail SNS sends is confirmed
  }

  tags = {
    Project = "batchform"
    Example = "batch-job-notifications"
  }
}

module "outcomes" {
  source = "../.."

  name           = "batchform-example-job-outcomes"
  account_name   = "example"
  job_queue_arns = [module.queue.arn]
  statuses       = ["FAILED", "SUCCEEDED"]
  kms_key_arn    = module.failures.kms_key_arn # a key whose policy lets EventBridge use it

  subscribers = {
    sqs = [aws_sqs_queue.outcomes.arn]
  }
}

resource "aws_sqs_queue" "outcomes" {
  name                    = "batchform-example-job-outcomes"
  sqs_managed_sse_enabled = true
}

# The queue takes messages from the outcomes topic only.
resource "aws_sqs_queue_policy" "outcomes" {
  queue_url = aws_sqs_queue.outcomes.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "TopicSends"
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = ["sqs:SendMessage"]
      Resource  = [aws_sqs_queue.outcomes.arn]
      Condition = { ArnEquals = { "aws:SourceArn" = module.outcomes.topic_arn } }
    }]
  })
}

output "failures_topic_arn" {
  description = "Subscribe more endpoints here."
  value       = module.failures.topic_arn
}

output "outcomes_queue_url" {
  description = "Read the outcomes from here."
  value       = aws_sqs_queue.outcomes.url
}
