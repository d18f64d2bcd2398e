# Plan-level tests of the dynamodb-table module with a mocked AWS provider.

mock_provider "aws" {
  mock_resource "aws_dynamodb_table" {
    defaults = {
      arn = "arn:aws:dynamodb:us-east-1:123456789012:table/batchform-check-operations"
    }
  }
}

variables {
  name = "batchform-check-operations"
}

run "defaults_make_a_protected_kms_encrypted_on_demand_table_with_a_string_id" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.this.billing_mode == "PAY_PER_REQUEST"
    error_message = "The table must be billed per request."
  }

  assert {
    condition = (
      aws_dynamodb_table.this.hash_key == "id" && aws_dynamodb_table.this.range_key == null &&
      [for a in aws_dynamodb_table.this.attribute : { name = a.name, type = a.type }] == [{ name = "id", type = "S" }]
    )
    error_message = "By default the only key is the string partition key id."
  }

  assert {
    # kms_key_arn is left to AWS (computed), which reports the AWS managed key.
    condition     = length(aws_dynamodb_table.this.server_side_encryption) == 1 && one(aws_dynamodb_table.this.server_side_encryption).enabled == true
    error_message = "Without kms_key_arn the table must still be KMS-encrypted (enabled: the AWS managed key, not the AWS owned one)."
  }

  assert {
    condition     = one(aws_dynamodb_table.this.point_in_time_recovery).enabled == true
    error_message = "Point-in-time recovery must be on by default."
  }

  assert {
    condition     = aws_dynamodb_table.this.deletion_protection_enabled == true
    error_message = "Deletion protection must be on by default."
  }

  assert {
    condition     = length(aws_dynamodb_table.this.ttl) == 1 && one(aws_dynamodb_table.this.ttl).enabled == false && one(aws_dynamodb_table.this.ttl).attribute_name == null
    error_message = "Without ttl_attribute TTL must be off."
  }
}

run "a_sort_key_ttl_and_key_follow_the_inputs" {
  command = plan

  variables {
    hash_key               = "pk"
    range_key              = "sk"
    ttl_attribute          = "expires_at"
    kms_key_arn            = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    point_in_time_recovery = false
    deletion_protection    = false
    tags                   = { Project = "batchform" }
  }

  assert {
    condition = (
      aws_dynamodb_table.this.hash_key == "pk" && aws_dynamodb_table.this.range_key == "sk" &&
      toset([for a in aws_dynamodb_table.this.attribute : { name = a.name, type = a.type }]) == toset([{ name = "pk", type = "S" }, { name = "sk", type = "S" }])
    )
    error_message = "hash_key and range_key must be the table's string keys, and the only declared attributes."
  }

  assert {
    condition     = [for t in aws_dynamodb_table.this.ttl : { enabled = t.enabled, attribute = t.attribute_name }] == [{ enabled = true, attribute = "expires_at" }]
    error_message = "ttl_attribute must enable TTL on that attribute."
  }

  assert {
    condition     = [for s in aws_dynamodb_table.this.server_side_encryption : { enabled = s.enabled, key = s.kms_key_arn }] == [{ enabled = true, key = var.kms_key_arn }]
    error_message = "kms_key_arn must encrypt the table with that key."
  }

  assert {
    condition     = one(aws_dynamodb_table.this.point_in_time_recovery).enabled == false && aws_dynamodb_table.this.deletion_protection_enabled == false
    error_message = "point_in_time_recovery and deletion_protection must follow the inputs."
  }

  assert {
    condition     = aws_dynamodb_table.this.tags == tomap({ Project = "batchform" })
    error_message = "Tags must be applied to the table."
  }
}

run "outputs_name_the_table_its_key_and_the_kms_key" {
  command = apply

  assert {
    condition = (
      output.name == "batchform-check-operations" && output.hash_key == "id" && output.kms_key_arn == null &&
      output.arn == "arn:aws:dynamodb:us-east-1:123456789012:table/batchform-check-operations"
    )
    error_message = "Outputs must name the table, its ARN, its partition key and the key."
  }
}

run "bad_names_are_refused" {
  command = plan

  variables {
    name = "batchform/operations"
  }

  expect_failures = [var.name]
}

run "names_shorter_than_three_characters_are_refused" {
  command = plan

  variables {
    name = "ab"
  }

  expect_failures = [var.name]
}

run "an_empty_hash_key_is_refused" {
  command = plan

  variables {
    hash_key = ""
  }

  expect_failures = [var.hash_key]
}

run "a_range_key_longer_than_255_characters_is_refused" {
  command = plan

  variables {
    range_key = join("", [for i in range(256) : "k"])
  }

  expect_failures = [var.range_key]
}

run "an_empty_ttl_attribute_is_refused" {
  command = plan

  variables {
    ttl_attribute = ""
  }

  expect_failures = [var.ttl_attribute]
}

run "an_alias_is_refused_as_the_key" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:alias/tables"
  }

  expect_failures = [var.kms_key_arn]
}

run "a_range_key_equal_to_the_hash_key_is_refused" {
  command = plan

  variables {
    range_key = "id"
  }

  expect_failures = [aws_dynamodb_table.this]
}

run "ttl_on_a_key_attribute_is_refused" {
  command = plan

  variables {
    ttl_attribute = "id"
  }

  expect_failures = [aws_dynamodb_table.this]
}
