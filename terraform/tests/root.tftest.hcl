# Tests of the root configuration with a mocked AWS provider: what one account's
# variables make of its job definitions, repositories, queue and data bucket.

mock_provider "aws" {
  mock_data "aws_vpc" {
    defaults = { id = "vpc-0d0d0d0d" }
  }
  mock_data "aws_subnets" {
    defaults = { ids = ["subnet-0a0a0a0a", "subnet-0b0b0b0b"] }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_resource "aws_batch_compute_environment" {
    defaults = { arn = "arn:aws:batch:us-east-1:123456789012:compute-environment/batchform-check-main-1" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:us-east-1:123456789012:repository/hello"
      repository_url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/batchform-check" }
  }
  mock_resource "aws_batch_scheduling_policy" {
    defaults = { arn = "arn:aws:batch:us-east-1:123456789012:scheduling-policy/batchform-check-default" }
  }
  mock_resource "aws_batch_job_queue" {
    defaults = { arn = "arn:aws:batch:us-east-1:123456789012:job-queue/batchform-check-default" }
  }
  mock_resource "aws_batch_job_definition" {
    defaults = {
      arn        = "arn:aws:batch:us-east-1:123456789012:job-definition/batchform-check-hello:1"
      arn_prefix = "arn:aws:batch:us-east-1:123456789012:job-definition/batchform-check-hello"
    }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:us-east-1:123456789012:batchform-check-schedules-dead-letter" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:batchform-check-job-events" }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-east-1:123456789012:rule/batchform-check-job-events" }
  }
  mock_resource "aws_kms_key" {
    defaults = {
      arn    = "arn:aws:kms:us-east-1:123456789012:key/66666666-6666-6666-6666-666666666666"
      key_id = "66666666-6666-6666-6666-666666666666"
    }
  }
  mock_resource "aws_s3_bucket" {
    defaults = {
      id  = "batchform-check-data-123456789012"
      arn = "arn:aws:s3:::batchform-check-data-123456789012"
    }
  }
}

variables {
  account_name = "check"
  account_id   = "123456789012"
  region       = "us-east-1"
  images       = { hello = { build = 42 } }
  jobs         = { hello = { image = "hello", vcpus = 0.25, memory = 512 } }
}

run "fargate_jobs_in_the_default_vpc_get_a_public_ip_to_pull_their_image" {
  command = apply

  assert {
    condition     = jsondecode(module.job_definitions.container_properties["hello"]).networkConfiguration.assignPublicIp == "ENABLED"
    error_message = "In the default VPC (public subnets, no NAT gateway) a Fargate job needs assignPublicIp ENABLED."
  }
}

run "fargate_jobs_in_declared_subnets_get_no_public_ip_unless_asked" {
  command = apply

  variables {
    network = { vpc_id = "vpc-0e0e0e0e", subnet_ids = ["subnet-0c0c0c0c"] }
  }

  assert {
    condition     = jsondecode(module.job_definitions.container_properties["hello"]).networkConfiguration.assignPublicIp == "DISABLED"
    error_message = "Declared subnets are private (NAT gateway or VPC endpoints): no public IP by default."
  }
}

run "a_declared_vpc_may_ask_for_a_public_ip" {
  command = apply

  variables {
    network = { vpc_id = "vpc-0e0e0e0e", subnet_ids = ["subnet-0c0c0c0c"], assign_public_ip = true }
  }

  assert {
    condition     = jsondecode(module.job_definitions.container_properties["hello"]).networkConfiguration.assignPublicIp == "ENABLED"
    error_message = "network.assign_public_ip = true must give Fargate jobs a public IP."
  }
}

run "every_account_has_a_data_bucket_and_each_job_its_items_prefix" {
  command = apply

  assert {
    condition     = output.data_bucket == "batchform-check-data-123456789012"
    error_message = "The root must output the data bucket's name."
  }

  assert {
    condition     = output.jobs["hello"].items_prefix == "fan-out/hello/" && output.jobs["hello"].fair_share == false && output.jobs["hello"].share_identifier == null
    error_message = "jobs[<name>] must give the job's items prefix, and no fair share on a queue without a policy."
  }

  assert {
    condition     = module.job_queues["default"].scheduling_policy_arn == null
    error_message = "Without queue.fair_share the queue keeps FIFO scheduling."
  }
}

run "a_fair_share_queue_gets_its_policy_and_jobs_their_default_share" {
  command = apply

  variables {
    queue = { fair_share = { compute_reservation = 10, share_decay_seconds = 3600, shares = { reports = 0.5, analytics = 1 } } }
    jobs  = { hello = { image = "hello", vcpus = 0.25, memory = 512, share_identifier = "analytics" } }
  }

  assert {
    condition     = module.job_queues["default"].scheduling_policy_arn != null
    error_message = "queue.fair_share must give the queue a scheduling policy."
  }

  assert {
    condition     = output.jobs["hello"].fair_share == true && output.jobs["hello"].share_identifier == "analytics"
    error_message = "jobs[<name>] must say the queue is fair-share and give the job's default share."
  }

  assert {
    condition     = module.job_definitions.scheduling_priorities["hello"] == 1
    error_message = "On a fair-share queue every job definition needs a scheduling priority (1 unless declared): AWS refuses a job without one."
  }
}

run "the_declared_build_is_never_expired_by_the_repository_lifecycle" {
  command = apply

  assert {
    condition = jsondecode(module.ecr["hello"].lifecycle_policy).rules[0] == {
      rulePriority = 1
      description  = "Never expire 42, which the account runs"
      selection    = { tagStatus = "tagged", tagPatternList = ["42"], countType = "imageCountMoreThan", countNumber = 1 }
      action       = { type = "expire" }
    }
    error_message = "The build the account declares must match the repository's highest-priority rule, exactly."
  }
}

run "kms_keys_reach_the_repositories_the_bucket_and_the_secrets_decrypt_statement" {
  command = apply

  variables {
    kms = {
      ecr         = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"
      logs        = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222"
      data_bucket = "arn:aws:kms:us-east-1:123456789012:key/33333333-3333-3333-3333-333333333333"
      secrets     = ["arn:aws:kms:eu-west-1:123456789012:key/44444444-4444-4444-4444-444444444444"]
    }
    jobs = {
      hello = {
        image   = "hello"
        vcpus   = 0.25
        memory  = 512
        secrets = { DB = "arn:aws:ssm:us-east-1:123456789012:parameter/hello/db" }
      }
    }
  }

  assert {
    condition     = module.data_bucket.kms_key_arn == var.kms.data_bucket
    error_message = "kms.data_bucket must encrypt the data bucket."
  }

  assert {
    condition = [for s in jsondecode(module.job_definitions.execution_role_policy).Statement : s.Resource if s.Sid == "DecryptSecrets"] == [
      ["arn:aws:kms:eu-west-1:123456789012:key/44444444-4444-4444-4444-444444444444"]
    ]
    error_message = "The execution role must get kms:Decrypt on exactly kms.secrets when secrets are referenced."
  }
}

run "secrets_keys_grant_nothing_without_a_referenced_secret" {
  command = apply

  variables {
    kms = { secrets = ["arn:aws:kms:us-east-1:123456789012:key/44444444-4444-4444-4444-444444444444"] }
  }

  assert {
    condition     = !strcontains(module.job_definitions.execution_role_policy, "kms:Decrypt")
    error_message = "Without referenced secrets the execution role must get no kms:Decrypt."
  }
}

run "a_job_gets_exactly_the_data_it_declares_and_where_it_is" {
  command = apply

  variables {
    tables = { operations = { deletion_protection = false } }
    jobs = {
      stats = {
        image  = "hello"
        vcpus  = 0.25
        memory = 512
        reads  = ["inputs/", "arn:aws:s3:::shared-datasets/census/"]
        writes = ["results/"]
        tables = ["operations"]
      }
      hello = { image = "hello", vcpus = 0.25, memory = 512, environment = { DATA_BUCKET = "elsewhere" } }
    }
  }

  assert {
    condition     = output.tables == { operations = { name = "batchform-check-operations", hash_key = "id" } }
    error_message = "Each declared table must be created as batchform-<account>-<key>."
  }

  assert {
    condition = {
      for s in jsondecode(module.job_definitions.job_role_policies["stats"]).Statement : s.Sid => s.Resource if contains(["ReadData", "WriteData", "UseTables"], s.Sid)
      } == {
      ReadData  = ["arn:aws:s3:::batchform-check-data-123456789012/inputs/*", "arn:aws:s3:::shared-datasets/census/*"]
      WriteData = ["arn:aws:s3:::batchform-check-data-123456789012/results/*"]
      UseTables = ["arn:aws:dynamodb:us-east-1:123456789012:table/batchform-check-operations"]
    }
    error_message = "A relative prefix must be in the account's data bucket, an ARN kept as given, and a table named by its ARN."
  }

  assert {
    condition = {
      for e in jsondecode(module.job_definitions.container_properties["stats"]).environment : e.name => e.value
    } == { DATA_BUCKET = "batchform-check-data-123456789012", OPERATIONS_TABLE = "batchform-check-operations" }
    error_message = "A job must be told its data bucket and each of its tables' names."
  }

  assert {
    condition     = [for e in jsondecode(module.job_definitions.container_properties["hello"]).environment : e.value if e.name == "DATA_BUCKET"] == ["elsewhere"]
    error_message = "A job's own environment must win over what batchform adds."
  }
}

run "rejects_a_job_using_a_table_the_account_does_not_declare" {
  command = plan

  variables {
    jobs = { hello = { image = "hello", vcpus = 0.25, memory = 512, tables = ["operations"] } }
  }

  expect_failures = [var.jobs]
}

run "rejects_a_read_prefix_with_a_wildcard" {
  command = plan

  variables {
    jobs = { hello = { image = "hello", vcpus = 0.25, memory = 512, reads = ["inputs/*"] } }
  }

  expect_failures = [var.jobs]
}

run "rejects_a_table_key_that_is_no_name" {
  command = plan

  variables {
    tables = { "Operations!" = {} }
  }

  expect_failures = [var.tables]
}

run "several_queues_over_several_compute_environments_each_with_its_policy_and_time_limits" {
  command = apply

  override_resource {
    target = module.batch_environment.aws_batch_compute_environment.this["spot"]
    values = { arn = "arn:aws:batch:us-east-1:123456789012:compute-environment/batchform-check-spot-1" }
  }

  variables {
    compute_environments = { spot = { type = "FARGATE_SPOT", max_vcpus = 8 } }
    queue                = { compute_environments = ["spot", "main"] }
    queues = {
      shared = {
        compute_environments = ["main"]
        priority             = 10
        fair_share           = { shares = { nightly = 1, adhoc = 0.5 } }
        time_limits          = { "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY" = 3600 }
      }
    }
    jobs = {
      hello   = { image = "hello", vcpus = 0.25, memory = 512 }
      nightly = { image = "hello", vcpus = 0.25, memory = 512, queue = "shared", share_identifier = "nightly" }
    }
  }

  assert {
    condition     = toset(keys(output.job_queue_arns)) == toset(["default", "shared"]) && output.queues["shared"].fair_share && !output.queues["default"].fair_share
    error_message = "Each declared queue must be made, with its own fair-share policy or none."
  }

  assert {
    condition     = output.jobs["nightly"].queue_name == "shared" && output.jobs["nightly"].fair_share && output.jobs["hello"].queue_name == "default"
    error_message = "A job must be sent to the queue it names (default: default)."
  }

  assert {
    condition     = output.queues["default"].max_vcpus == 16 && output.queues["shared"].max_vcpus == 16 && output.jobs["nightly"].max_vcpus == 16
    error_message = "A queue offers what its largest compute environment can run (main's 16 over spot's 8)."
  }

  assert {
    condition     = output.jobs["hello"].platform == "FARGATE" && output.queues["shared"].platform == "FARGATE"
    error_message = "A job runs where its queue's compute environments are."
  }

  assert {
    condition     = module.job_definitions.scheduling_priorities["hello"] == 1
    error_message = "With a fair-share queue in the account, every job definition has a priority: any job may be sent there."
  }

  assert {
    condition     = toset(keys(module.batch_environment.compute_environment_arns)) == toset(["main", "spot"])
    error_message = "Every declared compute environment must be made beside main."
  }
}

run "the_default_queue_cancels_jobs_stuck_runnable_by_default" {
  command = plan

  assert {
    condition = [for a in module.job_queues["default"].job_state_time_limit_actions : [a.reason, a.max_time_seconds]] == [
      ["CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", 14400],
      ["MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE", 600],
      ["MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", 600],
    ]
    error_message = "By default a job no compute environment can run is cancelled after 10 minutes, one waiting on capacity after 4 hours."
  }
}

run "rejects_a_queue_mixing_fargate_and_ec2" {
  command = plan

  variables {
    compute_environments = { ec2 = { type = "EC2", max_vcpus = 8 } }
    queue                = { compute_environments = ["main", "ec2"] }
  }

  expect_failures = [var.queue]
}

run "rejects_a_queue_over_an_undeclared_compute_environment" {
  command = plan

  variables {
    queues = { bulk = { compute_environments = ["gpu"] } }
  }

  expect_failures = [var.queues]
}

run "rejects_a_job_on_an_undeclared_queue" {
  command = plan

  variables {
    jobs = { hello = { image = "hello", vcpus = 0.25, memory = 512, queue = "bulk" } }
  }

  expect_failures = [var.jobs]
}

run "rejects_a_share_on_a_queue_without_fair_share" {
  command = plan

  variables {
    queues = { bulk = { compute_environments = ["main"] } }
    jobs   = { hello = { image = "hello", vcpus = 0.25, memory = 512, queue = "bulk", share_identifier = "nightly" } }
  }

  expect_failures = [var.jobs]
}

# ---- schedules and notifications ----------------------------------------------------------

run "a_scheduled_job_is_submitted_to_its_queue_and_definition_with_the_tags_submit_gives" {
  command = apply

  variables {
    jobs = { hello = { image = "hello", vcpus = 0.25, memory = 512, schedule = { expression = "cron(0 3 * * ? *)", timezone = "Europe/Paris" } } }
  }

  # The token is the one batchform's submit derives for this request (tests/test_jobs_list.py
  # derives the same from request_token): jobs.list and submit read a scheduled job as their own.
  assert {
    condition = jsonencode(output.schedules["hello"].input) == jsonencode({
      JobName       = "hello-scheduled"
      JobQueue      = "arn:aws:batch:us-east-1:123456789012:job-queue/batchform-check-default"
      JobDefinition = "arn:aws:batch:us-east-1:123456789012:job-definition/batchform-check-hello"
      PropagateTags = true
      Tags          = { "batchform:schedule" = "batchform-check-hello", "batchform:token" = "eb35208bc00286a51294ad740c54a43b" }
    })
    error_message = "A schedule must submit the job to the queue and definition (without revision) the outputs give submit, tagged as submit tags it."
  }

  assert {
    condition     = output.schedules["hello"].input.JobQueue == output.jobs["hello"].queue && output.schedules["hello"].input.JobDefinition == output.jobs["hello"].definition
    error_message = "A schedule and submit must send the job to the same queue and definition."
  }

  assert {
    condition     = output.schedules["hello"].name == "batchform-check-hello" && output.schedules["hello"].timezone == "Europe/Paris" && output.schedules["hello"].enabled
    error_message = "The schedule must be named after the account and the job, in its time zone, enabled."
  }

  assert {
    condition     = output.notifications == null && length(module.notifications) == 0
    error_message = "Without notifications declared, none are made."
  }
}

run "a_schedule_on_a_fair_share_queue_sends_the_jobs_share_and_a_paused_one_stays" {
  command = apply

  variables {
    queues = { shared = { compute_environments = ["main"], fair_share = { shares = { nightly = 1 } } } }
    jobs = {
      hello   = { image = "hello", vcpus = 0.25, memory = 512 }
      nightly = { image = "hello", vcpus = 0.25, memory = 512, queue = "shared", share_identifier = "nightly", schedule = { expression = "rate(1 day)", enabled = false } }
    }
  }

  assert {
    condition     = keys(output.schedules) == ["nightly"] && output.schedules["nightly"].input.ShareIdentifier == "nightly" && !output.schedules["nightly"].enabled
    error_message = "Only scheduled jobs get a schedule; a fair-share queue's runs carry the job's share; enabled = false pauses it."
  }

  assert {
    condition     = output.schedules["nightly"].input.Tags["batchform:token"] == "d639036314d4fc1c17ff35006788ba8c"
    error_message = "The token must be submit's for the request with the job's share, as submit sends it by default."
  }
}

run "notifications_tell_of_the_accounts_queues_with_a_key_eventbridge_may_use" {
  command = apply

  variables {
    queues        = { shared = { compute_environments = ["main"] } }
    notifications = { statuses = ["FAILED", "SUCCEEDED"], email = ["batch-team@example.com"], sqs = ["arn:aws:sqs:us-east-1:123456789012:batch-events"] }
  }

  assert {
    condition = (
      toset(module.notifications[0].event_pattern.detail.jobQueue) == toset([for queue in module.job_queues : queue.arn]) &&
      jsonencode(module.notifications[0].event_pattern.detail.status) == jsonencode(["FAILED", "SUCCEEDED"])
    )
    error_message = "The rule must match every queue of the account, in the declared statuses."
  }

  assert {
    condition     = strcontains(module.notifications[0].input_template, "Logs: invoke jobs.logs <id> --account check") && strcontains(module.notifications[0].input_template, "Account: check (AWS account <aws_account>)")
    error_message = "The message must name the account and give the jobs.logs command with its --account."
  }

  assert {
    condition     = jsonencode(output.notifications.statuses) == jsonencode(["FAILED", "SUCCEEDED"]) && length(module.notifications[0].subscription_arns) == 2 && module.notifications[0].key_policy != null
    error_message = "Each subscriber must be subscribed, and without kms.notifications a key made."
  }
}

run "a_declared_notifications_key_encrypts_the_topic" {
  command = plan

  variables {
    kms           = { notifications = "arn:aws:kms:us-east-1:123456789012:key/55555555-5555-5555-5555-555555555555" }
    notifications = {}
  }

  assert {
    condition     = module.notifications[0].kms_key_arn == var.kms.notifications && length(module.notifications[0].key_policy == null ? [] : [1]) == 0
    error_message = "kms.notifications must encrypt the topic, and no key be made."
  }
}

run "rejects_a_schedule_on_a_fair_share_queue_without_a_share" {
  command = plan

  variables {
    queue = { fair_share = { shares = { nightly = 1 } } }
    jobs  = { hello = { image = "hello", vcpus = 0.25, memory = 512, schedule = { expression = "rate(1 day)" } } }
  }

  expect_failures = [var.jobs]
}

run "rejects_a_status_that_is_no_final_state" {
  command = plan

  variables {
    notifications = { statuses = ["RUNNING"] }
  }

  expect_failures = [var.notifications]
}

run "rejects_the_aws_managed_sns_key" {
  command = plan

  variables {
    kms           = { notifications = "alias/aws/sns" }
    notifications = {}
  }

  expect_failures = [var.kms]
}
