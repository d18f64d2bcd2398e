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
