variable "name" {
  description = "Base name of the environment (1-100 letters, digits, hyphens or underscores). Compute environments are named `<name>-<key>-<unique suffix>`; IAM roles, the instance profile, launch templates and the security group use it as a prefix."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,100}$", var.name))
    error_message = "name must be 1-100 characters of letters, digits, hyphens and underscores."
  }
}

variable "vpc_id" {
  description = "ID of the VPC the compute environments run in (the module's security group is created there)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "subnet_ids" {
  description = "IDs of the subnets (in vpc_id) where instances and Fargate tasks are launched; 1 to 16. Private subnets with a NAT gateway or VPC endpoints are recommended."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.subnet_ids) >= 1 && length(var.subnet_ids) <= 16
    error_message = "subnet_ids must contain between 1 and 16 subnet IDs."
  }

  validation {
    condition     = alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "Each entry of subnet_ids must be a subnet ID (subnet-...)."
  }
}

variable "compute_environments" {
  description = <<-EOT
    Managed compute environments to create, keyed by a short name (letters, digits, hyphens, underscores) that becomes part of the environment name.
    `type` is FARGATE, FARGATE_SPOT, EC2 or SPOT. The EC2-only fields (`min_vcpus`, `desired_vcpus`, `instance_types`, `allocation_strategy`, `root_volume_size`) and the SPOT-only `bid_percentage` must stay unset (at their defaults) for Fargate entries.
    `desired_vcpus` is only an initial value: Batch scales it and the module ignores later drift.
  EOT
  type = map(object({
    type                = string
    max_vcpus           = number
    min_vcpus           = optional(number, 0)
    desired_vcpus       = optional(number)
    instance_types      = optional(list(string), ["optimal"])
    allocation_strategy = optional(string)
    bid_percentage      = optional(number)
    root_volume_size    = optional(number, 30)
  }))
  nullable = false

  validation {
    condition     = length(var.compute_environments) >= 1
    error_message = "compute_environments must contain at least one entry."
  }

  validation {
    condition     = alltrue([for k, ce in var.compute_environments : can(regex("^[A-Za-z0-9_-]{1,50}$", k))])
    error_message = "Each compute_environments key must be 1-50 letters, digits, hyphens or underscores (it becomes part of the compute environment name)."
  }

  validation {
    condition     = alltrue([for k, ce in var.compute_environments : contains(["FARGATE", "FARGATE_SPOT", "EC2", "SPOT"], ce.type)])
    error_message = "Each compute environment type must be one of FARGATE, FARGATE_SPOT, EC2 or SPOT."
  }

  validation {
    condition     = alltrue([for k, ce in var.compute_environments : ce.max_vcpus > 0 && floor(ce.max_vcpus) == ce.max_vcpus])
    error_message = "Each compute environment max_vcpus must be a whole number greater than 0."
  }

  validation {
    condition = alltrue([
      for k, ce in var.compute_environments : ce.min_vcpus >= 0 && floor(ce.min_vcpus) == ce.min_vcpus && ce.min_vcpus <= ce.max_vcpus
    ])
    error_message = "Each compute environment min_vcpus must be a whole number between 0 and max_vcpus."
  }

  validation {
    condition = alltrue([
      for k, ce in var.compute_environments : ce.desired_vcpus == null ? true : (
        ce.desired_vcpus >= ce.min_vcpus && ce.desired_vcpus <= ce.max_vcpus && floor(ce.desired_vcpus) == ce.desired_vcpus
      )
    ])
    error_message = "Each compute environment desired_vcpus must be a whole number between min_vcpus and max_vcpus."
  }

  validation {
    condition = alltrue([
      for k, ce in var.compute_environments : !startswith(ce.type, "FARGATE") || (
        ce.min_vcpus == 0 && ce.desired_vcpus == null && ce.allocation_strategy == null && ce.bid_percentage == null &&
        ce.instance_types == tolist(["optimal"]) && ce.root_volume_size == 30
      )
    ])
    error_message = "FARGATE and FARGATE_SPOT entries must not set EC2-only fields (min_vcpus, desired_vcpus, instance_types, allocation_strategy, bid_percentage, root_volume_size)."
  }

  validation {
    condition = alltrue([
      for k, ce in var.compute_environments : startswith(ce.type, "FARGATE") || (
        length(ce.instance_types) >= 1 && alltrue([for t in ce.instance_types : can(regex("^[a-z0-9-]+(\\.[a-z0-9-]+)?$", t))])
      )
    ])
    error_message = "EC2 and SPOT entries need at least one instance type, family or `optimal` (lowercase, e.g. m6i.large, c7g, optimal)."
  }

  validation {
    condition = alltrue([
      for k, ce in var.compute_environments : ce.allocation_strategy == null ? true : (
        contains(["BEST_FIT", "BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED"], ce.allocation_strategy) &&
        (ce.type == "SPOT" || !startswith(ce.allocation_strategy, "SPOT_"))
      )
    ])
    error_message = "allocation_strategy must be one of BEST_FIT, BEST_FIT_PROGRESSIVE, SPOT_CAPACITY_OPTIMIZED or SPOT_PRICE_CAPACITY_OPTIMIZED; the SPOT_* strategies are only valid for SPOT entries."
  }

  validation {
    condition = alltrue([
      for k, ce in var.compute_environments : ce.bid_percentage == null ? true : (
        ce.type == "SPOT" && ce.bid_percentage >= 1 && ce.bid_percentage <= 100 && floor(ce.bid_percentage) == ce.bid_percentage
      )
    ])
    error_message = "bid_percentage is only valid for SPOT entries and must be a whole number between 1 and 100."
  }

  validation {
    condition = alltrue([
      for k, ce in var.compute_environments : ce.root_volume_size >= 30 && ce.root_volume_size <= 16384 && floor(ce.root_volume_size) == ce.root_volume_size
    ])
    error_message = "root_volume_size must be a whole number of GiB between 30 (the ECS-optimized AMI snapshot size) and 16384."
  }
}

variable "additional_security_group_ids" {
  description = "Extra security groups attached to instances and Fargate tasks besides the module's own (HTTPS egress only); at most 4."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = length(var.additional_security_group_ids) <= 4 && alltrue([for s in var.additional_security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "additional_security_group_ids must contain at most 4 security group IDs (sg-...); Batch accepts 5 including the module's own."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource of the module (EC2 instances and their volumes receive them through the launch template)."
  type        = map(string)
  default     = {}
  nullable    = false
}
