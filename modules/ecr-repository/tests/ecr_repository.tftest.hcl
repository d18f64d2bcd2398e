# Plan-level tests of the ecr-repository module with a mocked AWS provider (no credentials needed).

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
}

variables {
  name = "batchform/worker"
}

run "defaults_make_an_immutable_scanned_aes256_repository_with_lifecycle_policy" {
  command = plan

  assert {
    condition     = aws_ecr_repository.this.name == "batchform/worker" && aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE"
    error_message = "The repository must be named after var.name and have immutable tags."
  }

  assert {
    condition     = aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push
    error_message = "Images must be scanned on push by default."
  }

  assert {
    condition     = aws_ecr_repository.this.encryption_configuration[0].encryption_type == "AES256"
    error_message = "Without kms_key_arn the repository must use AES256."
  }

  assert {
    condition     = aws_ecr_repository.this.force_delete == false
    error_message = "force_delete must default to false."
  }

  assert {
    condition     = length(aws_ecr_repository_policy.this) == 0
    error_message = "No repository policy without pull_account_ids."
  }

  assert {
    condition = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[0] == {
      rulePriority = 1
      description  = "Expire untagged images after 1 day(s)"
      selection    = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 1 }
      action       = { type = "expire" }
    }
    error_message = "Rule 1 must expire untagged images after untagged_expiry_days."
  }

  assert {
    condition = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[1] == {
      rulePriority = 2
      description  = "Keep the last 30 numeric builds"
      selection = {
        tagStatus     = "tagged"
        tagPrefixList = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
        countType     = "imageCountMoreThan"
        countNumber   = 30
      }
      action = { type = "expire" }
    }
    error_message = "Rule 2 must keep the last keep_builds numeric builds."
  }
}

run "kms_key_and_pull_accounts_give_kms_encryption_and_a_read_only_repository_policy" {
  command = plan

  variables {
    kms_key_arn          = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    pull_account_ids     = ["222222222222", "111111111111", "222222222222"]
    keep_builds          = 5
    untagged_expiry_days = 7
    scan_on_push         = false
    force_delete         = true
    tags                 = { Team = "data" }
  }

  assert {
    condition     = aws_ecr_repository.this.encryption_configuration[0].encryption_type == "KMS" && aws_ecr_repository.this.encryption_configuration[0].kms_key == var.kms_key_arn
    error_message = "kms_key_arn must select KMS encryption with that key."
  }

  assert {
    condition     = aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push == false && aws_ecr_repository.this.force_delete
    error_message = "scan_on_push and force_delete must follow the inputs."
  }

  assert {
    condition     = aws_ecr_repository.this.tags == tomap({ Team = "data" })
    error_message = "Tags must be applied to the repository."
  }

  assert {
    condition = jsondecode(aws_ecr_repository_policy.this[0].policy).Statement == [{
      Sid       = "CrossAccountPull"
      Effect    = "Allow"
      Principal = { AWS = ["arn:aws:iam::111111111111:root", "arn:aws:iam::222222222222:root"] }
      Action    = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    }]
    error_message = "The repository policy must grant exactly the three pull actions to the listed accounts (deduplicated, sorted)."
  }

  assert {
    condition     = !strcontains(aws_ecr_repository_policy.this[0].policy, "GetAuthorizationToken")
    error_message = "ecr:GetAuthorizationToken never belongs in a repository policy."
  }

  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[0].selection.countNumber == 7 && jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[1].selection.countNumber == 5
    error_message = "The lifecycle rules must use untagged_expiry_days and keep_builds."
  }
}

run "a_protected_build_has_the_highest_priority_rule_matching_exactly_its_tag" {
  command = plan

  variables {
    protected_tags = ["42"]
    keep_builds    = 3
  }

  assert {
    condition = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[0] == {
      rulePriority = 1
      description  = "Never expire 42, which the account runs"
      selection    = { tagStatus = "tagged", tagPatternList = ["42"], countType = "imageCountMoreThan", countNumber = 1 }
      action       = { type = "expire" }
    }
    error_message = "The protected build must match the first rule, exactly by its tag, with a count one image can never exceed."
  }

  assert {
    condition     = [for r in jsondecode(aws_ecr_lifecycle_policy.this.policy).rules : r.rulePriority] == [1, 2, 3]
    error_message = "The untagged and keep-the-last-N rules must follow the protected rule, in that order."
  }

  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[2].selection.countNumber == 3
    error_message = "keep_builds must still count the numeric builds."
  }
}

run "rejects_a_wildcard_in_a_protected_tag" {
  command = plan

  variables {
    protected_tags = ["4*"]
  }

  expect_failures = [var.protected_tags]
}

run "outputs_expose_the_repository" {
  command = apply

  override_resource {
    target = aws_ecr_repository.this
    values = {
      arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/batchform/worker"
      repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker"
      registry_id    = "123456789012"
    }
  }

  assert {
    condition     = output.repository_name == "batchform/worker" && output.registry_id == "123456789012"
    error_message = "repository_name and registry_id outputs are wrong."
  }

  assert {
    condition     = output.repository_arn == "arn:aws:ecr:eu-west-1:123456789012:repository/batchform/worker"
    error_message = "repository_arn output is wrong."
  }

  assert {
    condition     = output.repository_url == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/batchform/worker"
    error_message = "repository_url output is wrong."
  }
}

run "valid_names_with_path_and_separators_are_accepted" {
  command = plan

  variables {
    name = "team-a/sub.project/worker_v2"
  }
}

# ---------------------------------------------------------------- bad inputs

run "rejects_uppercase_name" {
  command = plan

  variables {
    name = "Batchform/Worker"
  }

  expect_failures = [var.name]
}

run "rejects_one_character_name" {
  command = plan

  variables {
    name = "a"
  }

  expect_failures = [var.name]
}

run "rejects_name_with_leading_or_doubled_separator" {
  command = plan

  variables {
    name = "-worker//x"
  }

  expect_failures = [var.name]
}

run "rejects_name_longer_than_256_characters" {
  command = plan

  variables {
    name = join("/", [for i in range(52) : "abcd"])
  }

  expect_failures = [var.name]
}

run "rejects_kms_alias_instead_of_key_arn" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:alias/ecr"
  }

  expect_failures = [var.kms_key_arn]
}

run "rejects_keep_builds_zero" {
  command = plan

  variables {
    keep_builds = 0
  }

  expect_failures = [var.keep_builds]
}

run "rejects_keep_builds_negative" {
  command = plan

  variables {
    keep_builds = -3
  }

  expect_failures = [var.keep_builds]
}

run "rejects_keep_builds_above_1000" {
  command = plan

  variables {
    keep_builds = 1001
  }

  expect_failures = [var.keep_builds]
}

run "rejects_fractional_keep_builds" {
  command = plan

  variables {
    keep_builds = 2.5
  }

  expect_failures = [var.keep_builds]
}

run "rejects_untagged_expiry_days_zero" {
  command = plan

  variables {
    untagged_expiry_days = 0
  }

  expect_failures = [var.untagged_expiry_days]
}

run "rejects_non_numeric_pull_account_id" {
  command = plan

  variables {
    pull_account_ids = ["abcdefghijkl"]
  }

  expect_failures = [var.pull_account_ids]
}

run "rejects_pull_account_id_with_wrong_length" {
  command = plan

  variables {
    pull_account_ids = ["12345678901"]
  }

  expect_failures = [var.pull_account_ids]
}
