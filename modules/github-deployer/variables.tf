variable "github_repository" {
  description = "The GitHub repository whose workflows may assume the roles, as `owner/name` (exactly as GitHub spells it: the token's `sub` claim is compared case for case)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$", var.github_repository)) && !can(regex("/\\.\\.?$", var.github_repository))
    error_message = "github_repository must be owner/name: an owner of letters, digits and hyphens (at most 39, not starting with a hyphen), a name of letters, digits, `.`, `_` and `-` (at most 100)."
  }
}

variable "deploy_branches" {
  description = "Branches whose workflow runs may assume the deploy role (the `sub` claim `repo:<owner>/<name>:ref:refs/heads/<branch>`), each named exactly: no wildcard."
  type        = list(string)
  default     = ["main"]
  nullable    = false

  validation {
    condition = alltrue([for b in var.deploy_branches : (
      can(regex("^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$", b)) && !strcontains(b, "..") && !strcontains(b, "//") &&
      !endswith(b, "/") && !endswith(b, ".") && !endswith(b, ".lock")
    )])
    error_message = "Each deploy_branches entry must be a branch name git accepts, without wildcards: letters, digits, `.`, `_`, `-` and `/` (no `..`, `//`, and not ending in `/`, `.` or `.lock`), at most 255 characters."
  }
}

variable "deploy_environments" {
  description = "GitHub environments whose jobs may assume the deploy role (the `sub` claim `repo:<owner>/<name>:environment:<name>`): the account's own environment, and that of every account a promotion copies this account's builds to (a promotion's job runs in its target's environment). Protect each with required reviewers and deployment branches."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for e in var.deploy_environments : can(regex("^[A-Za-z0-9._-]{1,255}$", e))])
    error_message = "Each deploy_environments entry must be letters, digits, `.`, `_` and `-` (at most 255): the environment named after a batchform account."
  }
}

variable "plan_pull_requests" {
  description = "Create the plan-only role, which the workflows of pull requests may assume (the `sub` claim `repo:<owner>/<name>:pull_request`)."
  type        = bool
  default     = true
  nullable    = false
}

variable "deploy_policy_json" {
  description = "The deploy role's permissions: deployer-policy's `policy_json`."
  type        = string
  nullable    = false

  validation {
    condition     = can(jsondecode(var.deploy_policy_json).Statement) && length(var.deploy_policy_json) <= 10240
    error_message = "deploy_policy_json must be an IAM policy document (JSON with a Statement) of at most 10,240 characters, a role's inline policy limit."
  }

  validation {
    condition = try(alltrue([for st in flatten([jsondecode(var.deploy_policy_json).Statement]) : (
      !can(st.NotAction) && alltrue([for a in flatten([try(st.Action, [])]) : !strcontains(a, "*") && !strcontains(a, "?")])
    )]), true)
    error_message = "deploy_policy_json must name each action it grants: no wildcard, no NotAction."
  }
}

variable "plan_policy_json" {
  description = "The plan-only role's permissions: deployer-policy's `plan_policy_json` (required with `plan_pull_requests`)."
  type        = string
  default     = null

  validation {
    condition     = var.plan_policy_json == null || try(can(jsondecode(var.plan_policy_json).Statement) && length(var.plan_policy_json) <= 10240, false)
    error_message = "plan_policy_json must be an IAM policy document (JSON with a Statement) of at most 10,240 characters, or null."
  }

  validation {
    condition = var.plan_policy_json == null || try(alltrue([for st in flatten([jsondecode(var.plan_policy_json).Statement]) : (
      !can(st.NotAction) && alltrue([for a in flatten([try(st.Action, [])]) : !strcontains(a, "*") && !strcontains(a, "?")])
    )]), true)
    error_message = "plan_policy_json must name each action it grants: no wildcard, no NotAction."
  }
}

variable "create_oidc_provider" {
  description = "Create the account's IAM OIDC provider for GitHub (token.actions.githubusercontent.com, audience sts.amazonaws.com); false when the account has one already (it is looked up by its URL)."
  type        = bool
  default     = true
  nullable    = false
}

variable "deploy_role_name" {
  description = "Name of the deploy role."
  type        = string
  default     = "github-actions-batchform-deploy"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.deploy_role_name)) && !startswith(var.deploy_role_name, "batchform-")
    error_message = "deploy_role_name must be 1-64 letters, digits and +=,.@_- (IAM's rule), and not start with `batchform-`: the deployer manages the roles named so, and could rewrite its own permissions."
  }
}

variable "plan_role_name" {
  description = "Name of the plan-only role."
  type        = string
  default     = "github-actions-batchform-plan"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.plan_role_name)) && !startswith(var.plan_role_name, "batchform-")
    error_message = "plan_role_name must be 1-64 letters, digits and +=,.@_- (IAM's rule), and not start with `batchform-`: the deployer manages the roles named so."
  }
}

variable "max_session_duration" {
  description = "Longest role session, in seconds (3600-43200); a workflow asks for up to this with `role-duration-seconds`. An apply must end within its session."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200 && floor(var.max_session_duration) == var.max_session_duration
    error_message = "max_session_duration must be a whole number of seconds from 3600 to 43200."
  }
}

variable "tags" {
  description = "Tags for the roles and the OIDC provider."
  type        = map(string)
  default     = {}
  nullable    = false
}
