# Plan-level tests of the batch-environment module with a mocked AWS provider.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  # The provider validates ARN arguments even with mocked values.
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mock"
    }
  }

  mock_resource "aws_iam_instance_profile" {
    defaults = {
      arn = "arn:aws:iam::123456789012:instance-profile/mock"
    }
  }
}

variables {
  name       = "batchform-test"
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
  compute_environments = {
    fargate = { type = "FARGATE", max_vcpus = 16 }
  }
}

run "fargate_only_creates_no_ec2_iam_and_sets_no_ec2_fields" {
  command = plan

  assert {
    condition     = length(aws_iam_role.instance) == 0 && length(aws_iam_instance_profile.instance) == 0 && length(aws_iam_role.spot_fleet) == 0 && length(aws_launch_template.this) == 0
    error_message = "A Fargate-only environment needs no instance role, instance profile, spot fleet role or launch template."
  }

  assert {
    condition     = aws_batch_compute_environment.this["fargate"].compute_environment_name_prefix == "batchform-test-fargate-" && aws_batch_compute_environment.this["fargate"].type == "MANAGED"
    error_message = "Compute environments must be MANAGED and named with the <name>-<key>- prefix."
  }

  assert {
    condition = (
      aws_batch_compute_environment.this["fargate"].compute_resources[0].type == "FARGATE" &&
      aws_batch_compute_environment.this["fargate"].compute_resources[0].max_vcpus == 16 &&
      aws_batch_compute_environment.this["fargate"].compute_resources[0].min_vcpus == null &&
      aws_batch_compute_environment.this["fargate"].compute_resources[0].instance_type == null &&
      aws_batch_compute_environment.this["fargate"].compute_resources[0].allocation_strategy == null &&
      aws_batch_compute_environment.this["fargate"].compute_resources[0].instance_role == null &&
      aws_batch_compute_environment.this["fargate"].compute_resources[0].bid_percentage == null &&
      aws_batch_compute_environment.this["fargate"].compute_resources[0].spot_iam_fleet_role == null &&
      length(aws_batch_compute_environment.this["fargate"].compute_resources[0].launch_template) == 0
    )
    error_message = "FARGATE compute resources must not carry EC2-only fields."
  }

  assert {
    condition     = aws_batch_compute_environment.this["fargate"].compute_resources[0].subnets == toset(var.subnet_ids)
    error_message = "Subnets must be passed through."
  }

  assert {
    condition     = aws_security_group.this.vpc_id == var.vpc_id
    error_message = "The security group must live in vpc_id."
  }

  assert {
    condition = (
      aws_vpc_security_group_egress_rule.https_ipv4.from_port == 443 && aws_vpc_security_group_egress_rule.https_ipv4.to_port == 443 &&
      aws_vpc_security_group_egress_rule.https_ipv4.ip_protocol == "tcp" && aws_vpc_security_group_egress_rule.https_ipv4.cidr_ipv4 == "0.0.0.0/0" &&
      aws_vpc_security_group_egress_rule.https_ipv6.from_port == 443 && aws_vpc_security_group_egress_rule.https_ipv6.cidr_ipv6 == "::/0"
    )
    error_message = "Egress must be HTTPS only."
  }
}

run "fargate_environment_gets_module_and_additional_security_groups" {
  command = apply

  variables {
    additional_security_group_ids = ["sg-0123456789abcdef0"]
    tags                          = { Project = "batchform" }
  }

  override_resource {
    target = aws_security_group.this
    values = {
      id = "sg-00000000000000001"
    }
  }

  assert {
    condition     = aws_batch_compute_environment.this["fargate"].compute_resources[0].security_group_ids == toset(["sg-00000000000000001", "sg-0123456789abcdef0"])
    error_message = "The module's and the additional security groups must both be attached."
  }

  assert {
    condition     = output.security_group_id == "sg-00000000000000001"
    error_message = "security_group_id output is wrong."
  }

  assert {
    condition     = output.instance_role_arn == null && output.instance_profile_arn == null && output.spot_fleet_role_arn == null
    error_message = "EC2/SPOT-only outputs must be null for a Fargate-only environment."
  }

  assert {
    condition     = aws_batch_compute_environment.this["fargate"].tags == tomap({ Project = "batchform" }) && aws_security_group.this.tags == tomap({ Project = "batchform", Name = "batchform-test-batch" })
    error_message = "Tags must be merged onto the taggable resources."
  }
}

run "ec2_and_spot_environments_get_instance_iam_launch_templates_and_spot_role" {
  command = apply

  variables {
    tags = { Project = "batchform" }
    compute_environments = {
      fargate = { type = "FARGATE_SPOT", max_vcpus = 4 }
      ec2 = {
        type                = "EC2"
        max_vcpus           = 64
        min_vcpus           = 2
        desired_vcpus       = 4
        instance_types      = ["m6i.large", "c6i"]
        allocation_strategy = "BEST_FIT_PROGRESSIVE"
        root_volume_size    = 100
      }
      spot = {
        type                = "SPOT"
        max_vcpus           = 32
        allocation_strategy = "SPOT_PRICE_CAPACITY_OPTIMIZED"
        bid_percentage      = 60
      }
    }
  }

  override_resource {
    target = aws_iam_instance_profile.instance
    values = {
      arn = "arn:aws:iam::123456789012:instance-profile/batchform-test-ecs-1"
    }
  }

  override_resource {
    target = aws_iam_role.spot_fleet
    values = {
      arn = "arn:aws:iam::123456789012:role/batchform-test-spot-1"
    }
  }

  override_resource {
    target = aws_iam_role.instance
    values = {
      arn = "arn:aws:iam::123456789012:role/batchform-test-ecs-1"
    }
  }

  assert {
    condition     = length(aws_iam_role.instance) == 1 && length(aws_iam_instance_profile.instance) == 1 && length(aws_iam_role.spot_fleet) == 1
    error_message = "EC2/SPOT need one instance role and profile; SPOT needs one spot fleet role."
  }

  assert {
    condition     = toset(keys(aws_launch_template.this)) == toset(["ec2", "spot"])
    error_message = "One launch template per EC2/SPOT environment, none for Fargate."
  }

  assert {
    condition = alltrue([
      for lt in aws_launch_template.this : lt.metadata_options[0].http_tokens == "required" && lt.metadata_options[0].http_put_response_hop_limit == 2 && lt.metadata_options[0].http_endpoint == "enabled"
    ])
    error_message = "Launch templates must require IMDSv2 with hop limit 2."
  }

  assert {
    condition = (
      aws_launch_template.this["ec2"].block_device_mappings[0].ebs[0].volume_type == "gp3" &&
      aws_launch_template.this["ec2"].block_device_mappings[0].ebs[0].encrypted == "true" &&
      aws_launch_template.this["ec2"].block_device_mappings[0].ebs[0].volume_size == 100 &&
      aws_launch_template.this["spot"].block_device_mappings[0].ebs[0].volume_size == 30
    )
    error_message = "Root volumes must be encrypted gp3 of root_volume_size GiB (default 30)."
  }

  assert {
    condition     = toset([for ts in aws_launch_template.this["ec2"].tag_specifications : ts.resource_type]) == toset(["instance", "volume"])
    error_message = "Instances and volumes must be tagged through the launch template."
  }

  assert {
    condition = (
      aws_batch_compute_environment.this["ec2"].compute_resources[0].instance_role == "arn:aws:iam::123456789012:instance-profile/batchform-test-ecs-1" &&
      aws_batch_compute_environment.this["ec2"].compute_resources[0].instance_type == toset(["m6i.large", "c6i"]) &&
      aws_batch_compute_environment.this["ec2"].compute_resources[0].min_vcpus == 2 &&
      aws_batch_compute_environment.this["ec2"].compute_resources[0].desired_vcpus == 4 &&
      aws_batch_compute_environment.this["ec2"].compute_resources[0].allocation_strategy == "BEST_FIT_PROGRESSIVE" &&
      aws_batch_compute_environment.this["ec2"].compute_resources[0].spot_iam_fleet_role == null &&
      aws_batch_compute_environment.this["ec2"].compute_resources[0].launch_template[0].launch_template_id == aws_launch_template.this["ec2"].id
    )
    error_message = "The EC2 environment must use the instance profile, its launch template and the EC2 fields."
  }

  assert {
    condition = (
      aws_batch_compute_environment.this["spot"].compute_resources[0].spot_iam_fleet_role == "arn:aws:iam::123456789012:role/batchform-test-spot-1" &&
      aws_batch_compute_environment.this["spot"].compute_resources[0].bid_percentage == 60 &&
      aws_batch_compute_environment.this["spot"].compute_resources[0].instance_type == toset(["optimal"])
    )
    error_message = "The SPOT environment must use the spot fleet role and bid percentage."
  }

  assert {
    condition     = aws_iam_role_policy_attachment.instance[0].policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role" && aws_iam_role_policy_attachment.spot_fleet[0].policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonEC2SpotFleetTaggingRole"
    error_message = "Instance and spot fleet roles must have their AWS managed policies."
  }

  assert {
    condition     = jsondecode(aws_iam_role.instance[0].assume_role_policy).Statement[0].Principal.Service == "ec2.amazonaws.com" && jsondecode(aws_iam_role.spot_fleet[0].assume_role_policy).Statement[0].Principal.Service == "spotfleet.amazonaws.com"
    error_message = "Instance role must trust EC2, spot fleet role must trust spotfleet."
  }

  assert {
    condition     = output.instance_profile_arn == "arn:aws:iam::123456789012:instance-profile/batchform-test-ecs-1" && output.spot_fleet_role_arn == "arn:aws:iam::123456789012:role/batchform-test-spot-1" && output.instance_role_arn == "arn:aws:iam::123456789012:role/batchform-test-ecs-1"
    error_message = "Role/profile outputs must be set when EC2/SPOT environments exist."
  }

  assert {
    condition     = toset(keys(output.compute_environment_arns)) == toset(["fargate", "ec2", "spot"]) && toset(keys(output.compute_environment_names)) == toset(["fargate", "ec2", "spot"])
    error_message = "compute_environment_arns/names must be keyed like compute_environments."
  }
}

run "ec2_without_spot_creates_no_spot_fleet_role" {
  command = plan

  variables {
    compute_environments = {
      ec2 = { type = "EC2", max_vcpus = 8 }
    }
  }

  assert {
    condition     = length(aws_iam_role.spot_fleet) == 0 && length(aws_iam_role.instance) == 1
    error_message = "No spot fleet role without a SPOT environment."
  }
}

# ---------------------------------------------------------------- bad inputs

run "rejects_unknown_compute_type" {
  command = plan

  variables {
    compute_environments = { gpu = { type = "GPU", max_vcpus = 8 } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_zero_max_vcpus" {
  command = plan

  variables {
    compute_environments = { fargate = { type = "FARGATE", max_vcpus = 0 } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_negative_max_vcpus" {
  command = plan

  variables {
    compute_environments = { fargate = { type = "FARGATE", max_vcpus = -4 } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_fractional_max_vcpus" {
  command = plan

  variables {
    compute_environments = { ec2 = { type = "EC2", max_vcpus = 2.5 } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_negative_min_vcpus" {
  command = plan

  variables {
    compute_environments = { ec2 = { type = "EC2", max_vcpus = 8, min_vcpus = -1 } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_min_vcpus_above_max" {
  command = plan

  variables {
    compute_environments = { ec2 = { type = "EC2", max_vcpus = 8, min_vcpus = 16 } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_desired_vcpus_outside_min_max" {
  command = plan

  variables {
    compute_environments = { ec2 = { type = "EC2", max_vcpus = 8, desired_vcpus = 9 } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_ec2_only_fields_on_fargate" {
  command = plan

  variables {
    compute_environments = { fargate = { type = "FARGATE", max_vcpus = 8, instance_types = ["m6i.large"] } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_min_vcpus_on_fargate" {
  command = plan

  variables {
    compute_environments = { fargate = { type = "FARGATE_SPOT", max_vcpus = 8, min_vcpus = 2 } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_spot_allocation_strategy_on_ec2" {
  command = plan

  variables {
    compute_environments = { ec2 = { type = "EC2", max_vcpus = 8, allocation_strategy = "SPOT_CAPACITY_OPTIMIZED" } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_unknown_allocation_strategy" {
  command = plan

  variables {
    compute_environments = { ec2 = { type = "EC2", max_vcpus = 8, allocation_strategy = "CHEAPEST" } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_bid_percentage_on_ec2" {
  command = plan

  variables {
    compute_environments = { ec2 = { type = "EC2", max_vcpus = 8, bid_percentage = 50 } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_bid_percentage_above_100" {
  command = plan

  variables {
    compute_environments = { spot = { type = "SPOT", max_vcpus = 8, bid_percentage = 101 } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_bid_percentage_zero" {
  command = plan

  variables {
    compute_environments = { spot = { type = "SPOT", max_vcpus = 8, bid_percentage = 0 } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_root_volume_smaller_than_the_ami" {
  command = plan

  variables {
    compute_environments = { ec2 = { type = "EC2", max_vcpus = 8, root_volume_size = 20 } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_uppercase_instance_type" {
  command = plan

  variables {
    compute_environments = { ec2 = { type = "EC2", max_vcpus = 8, instance_types = ["M6I.LARGE"] } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_key_with_invalid_characters" {
  command = plan

  variables {
    compute_environments = { "on demand" = { type = "FARGATE", max_vcpus = 8 } }
  }

  expect_failures = [var.compute_environments]
}

run "rejects_empty_compute_environments" {
  command = plan

  variables {
    compute_environments = {}
  }

  expect_failures = [var.compute_environments]
}

run "rejects_empty_subnet_ids" {
  command = plan

  variables {
    subnet_ids = []
  }

  expect_failures = [var.subnet_ids]
}

run "rejects_malformed_subnet_id" {
  command = plan

  variables {
    subnet_ids = ["sn-123"]
  }

  expect_failures = [var.subnet_ids]
}

run "rejects_malformed_vpc_id" {
  command = plan

  variables {
    vpc_id = "default"
  }

  expect_failures = [var.vpc_id]
}

run "rejects_too_many_additional_security_groups" {
  command = plan

  variables {
    additional_security_group_ids = ["sg-01", "sg-02", "sg-03", "sg-04", "sg-05"]
  }

  expect_failures = [var.additional_security_group_ids]
}

run "rejects_name_with_invalid_characters" {
  command = plan

  variables {
    name = "batch form"
  }

  expect_failures = [var.name]
}

run "rejects_name_longer_than_100_characters" {
  command = plan

  variables {
    name = join("", [for i in range(101) : "a"])
  }

  expect_failures = [var.name]
}

run "rejects_name_and_key_too_long_for_a_compute_environment_name" {
  command = plan

  variables {
    name = join("", [for i in range(80) : "a"])
    compute_environments = {
      (join("", [for i in range(30) : "k"])) = { type = "FARGATE", max_vcpus = 8 }
    }
  }

  expect_failures = [aws_batch_compute_environment.this]
}
