data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition

  # IAM name_prefix accepts at most 38 characters.
  iam_prefix = substr(var.name, 0, 28)

  ec2_environments  = { for k, ce in var.compute_environments : k => ce if contains(["EC2", "SPOT"], ce.type) }
  spot_environments = { for k, ce in var.compute_environments : k => ce if ce.type == "SPOT" }
  has_ec2           = length(local.ec2_environments) > 0
  has_spot          = length(local.spot_environments) > 0

  security_group_ids = concat([aws_security_group.this.id], var.additional_security_group_ids)

  assume_role_policies = {
    for service in ["ec2", "spotfleet"] : service => jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Sid       = "AssumeRole"
        Effect    = "Allow"
        Action    = "sts:AssumeRole"
        Principal = { Service = "${service}.amazonaws.com" }
      }]
    })
  }
}

################################################################################
# EC2 / SPOT instances
################################################################################

resource "aws_iam_role" "instance" {
  count = local.has_ec2 ? 1 : 0

  name_prefix        = "${local.iam_prefix}-ecs-"
  description        = "ECS container instance role for the Batch environment ${var.name}"
  assume_role_policy = local.assume_role_policies["ec2"]
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "instance" {
  count = local.has_ec2 ? 1 : 0

  role       = aws_iam_role.instance[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "instance" {
  count = local.has_ec2 ? 1 : 0

  name_prefix = "${local.iam_prefix}-ecs-"
  role        = aws_iam_role.instance[0].name
  tags        = var.tags
}

resource "aws_iam_role" "spot_fleet" {
  count = local.has_spot ? 1 : 0

  name_prefix        = "${local.iam_prefix}-spot-"
  description        = "Spot Fleet role for the Batch environment ${var.name}"
  assume_role_policy = local.assume_role_policies["spotfleet"]
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "spot_fleet" {
  count = local.has_spot ? 1 : 0

  role       = aws_iam_role.spot_fleet[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2SpotFleetTaggingRole"
}

resource "aws_launch_template" "this" {
  #checkov:skip=CKV_AWS_341:Hop limit 2 is required so containers in bridge network mode reach IMDSv2 (tokens are still required).
  for_each = local.ec2_environments

  name_prefix            = "${var.name}-${each.key}-"
  description            = "Batch compute environment ${var.name}-${each.key}: IMDSv2 only, encrypted gp3 root volume"
  update_default_version = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = each.value.root_volume_size
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  dynamic "tag_specifications" {
    for_each = length(var.tags) > 0 ? ["instance", "volume"] : []

    content {
      resource_type = tag_specifications.value
      tags          = var.tags
    }
  }

  tags = var.tags
}

################################################################################
# Networking
################################################################################

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-batch-"
  description = "AWS Batch ${var.name}: no ingress, HTTPS egress to AWS APIs and registries"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-batch" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "https_ipv4" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS to AWS APIs (Batch, ECS, ECR, S3, CloudWatch Logs) over IPv4"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "https_ipv6" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS to AWS APIs (Batch, ECS, ECR, S3, CloudWatch Logs) over IPv6"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv6         = "::/0"
  tags              = var.tags
}

################################################################################
# Compute environments
################################################################################

resource "aws_batch_compute_environment" "this" {
  for_each = var.compute_environments

  compute_environment_name_prefix = "${var.name}-${each.key}-"
  type                            = "MANAGED"
  state                           = "ENABLED"
  # No service_role: Batch uses its service-linked role (AWSServiceRoleForBatch, created on
  # first use), whose permissions AWS scopes to what Batch does, instead of a role of ours
  # carrying the broad AWSBatchServiceRole policy.

  compute_resources {
    type               = each.value.type
    max_vcpus          = each.value.max_vcpus
    subnets            = var.subnet_ids
    security_group_ids = local.security_group_ids

    # EC2-only arguments: null for Fargate.
    min_vcpus           = contains(["EC2", "SPOT"], each.value.type) ? each.value.min_vcpus : null
    desired_vcpus       = contains(["EC2", "SPOT"], each.value.type) ? each.value.desired_vcpus : null
    instance_type       = contains(["EC2", "SPOT"], each.value.type) ? each.value.instance_types : null
    allocation_strategy = contains(["EC2", "SPOT"], each.value.type) ? each.value.allocation_strategy : null
    instance_role       = contains(["EC2", "SPOT"], each.value.type) ? aws_iam_instance_profile.instance[0].arn : null

    # SPOT-only arguments.
    bid_percentage      = each.value.type == "SPOT" ? each.value.bid_percentage : null
    spot_iam_fleet_role = each.value.type == "SPOT" ? aws_iam_role.spot_fleet[0].arn : null

    dynamic "launch_template" {
      for_each = contains(["EC2", "SPOT"], each.value.type) ? [aws_launch_template.this[each.key]] : []

      content {
        launch_template_id = launch_template.value.id
        version            = launch_template.value.latest_version
      }
    }
  }

  tags = var.tags

  lifecycle {
    # A fixed name makes replacement impossible while a job queue references the environment:
    # with a name prefix the new environment is created (and the queue repointed) before the old one goes.
    create_before_destroy = true
    # Batch scales desired_vcpus itself; do not fight it.
    ignore_changes = [compute_resources[0].desired_vcpus]

    precondition {
      condition     = length(var.name) + length(each.key) <= 100
      error_message = "name and the compute_environments key together must not exceed 100 characters (a compute environment name is at most 128 with the separators and the 26-character unique suffix)."
    }
  }

  # Keep the policies attached until the environment is gone, or a destroy strands it in DELETING.
  depends_on = [
    aws_iam_role_policy_attachment.instance,
    aws_iam_role_policy_attachment.spot_fleet,
  ]
}
