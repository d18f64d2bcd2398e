# Plan-level tests of the data-bucket module with a mocked AWS provider.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
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
  name = "batchform-check-data-123456789012"
}

run "defaults_make_a_private_versioned_sse_s3_bucket" {
  command = plan

  assert {
    condition = (
      aws_s3_bucket_public_access_block.this.block_public_acls && aws_s3_bucket_public_access_block.this.block_public_policy &&
      aws_s3_bucket_public_access_block.this.ignore_public_acls && aws_s3_bucket_public_access_block.this.restrict_public_buckets
    )
    error_message = "Every public access setting must be blocked."
  }

  assert {
    condition     = aws_s3_bucket_ownership_controls.this.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "Object ownership must be enforced (ACLs disabled)."
  }

  assert {
    condition     = one(aws_s3_bucket_versioning.this.versioning_configuration).status == "Enabled"
    error_message = "The bucket must be versioned."
  }

  assert {
    condition     = [for r in aws_s3_bucket_server_side_encryption_configuration.this.rule : one(r.apply_server_side_encryption_by_default).sse_algorithm] == ["AES256"]
    error_message = "Without kms_key_arn the bucket must use SSE-S3 (AES256)."
  }

  assert {
    condition     = aws_s3_bucket.this.force_destroy == false
    error_message = "force_destroy must default to false."
  }
}

run "fan_out_items_expire_current_and_noncurrent_versions_and_incomplete_uploads_are_aborted" {
  command = plan

  assert {
    condition     = length(aws_s3_bucket_lifecycle_configuration.this.rule) == 2
    error_message = "Two lifecycle rules expected: fan-out expiry and aborting incomplete uploads."
  }

  assert {
    condition = {
      id         = aws_s3_bucket_lifecycle_configuration.this.rule[0].id
      status     = aws_s3_bucket_lifecycle_configuration.this.rule[0].status
      prefix     = one(aws_s3_bucket_lifecycle_configuration.this.rule[0].filter).prefix
      days       = one(aws_s3_bucket_lifecycle_configuration.this.rule[0].expiration).days
      noncurrent = one(aws_s3_bucket_lifecycle_configuration.this.rule[0].noncurrent_version_expiration).noncurrent_days
    } == { id = "expire-fan-out-items", status = "Enabled", prefix = "fan-out/", days = 7, noncurrent = 7 }
    error_message = "fan-out/ items, current and noncurrent versions, must expire after 7 days."
  }

  assert {
    condition = {
      id     = aws_s3_bucket_lifecycle_configuration.this.rule[1].id
      status = aws_s3_bucket_lifecycle_configuration.this.rule[1].status
      abort  = one(aws_s3_bucket_lifecycle_configuration.this.rule[1].abort_incomplete_multipart_upload).days_after_initiation
    } == { id = "abort-incomplete-uploads", status = "Enabled", abort = 1 }
    error_message = "Incomplete multipart uploads must be aborted after a day."
  }
}

run "the_bucket_policy_denies_every_request_without_tls" {
  command = plan

  assert {
    condition = jsondecode(aws_s3_bucket_policy.this.policy).Statement == [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = ["arn:aws:s3:::batchform-check-data-123456789012", "arn:aws:s3:::batchform-check-data-123456789012/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
    error_message = "The bucket policy must deny every request made without TLS, on the bucket and its objects."
  }
}

run "a_kms_key_gives_sse_kms_with_a_bucket_key_and_the_expiry_follows_the_input" {
  command = plan

  variables {
    kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    fan_out_expiry_days = 3
    fan_out_prefix      = "items/"
  }

  assert {
    condition = [for r in aws_s3_bucket_server_side_encryption_configuration.this.rule : {
      algorithm  = one(r.apply_server_side_encryption_by_default).sse_algorithm
      key        = one(r.apply_server_side_encryption_by_default).kms_master_key_id
      bucket_key = r.bucket_key_enabled
    }] == [{ algorithm = "aws:kms", key = var.kms_key_arn, bucket_key = true }]
    error_message = "kms_key_arn must select SSE-KMS with that key and a bucket key."
  }

  assert {
    condition     = one(aws_s3_bucket_lifecycle_configuration.this.rule[0].filter).prefix == "items/" && one(aws_s3_bucket_lifecycle_configuration.this.rule[0].expiration).days == 3
    error_message = "The lifecycle rule must follow fan_out_prefix and fan_out_expiry_days."
  }
}

run "outputs_name_the_bucket_and_the_prefix" {
  command = apply

  assert {
    condition     = output.name == "batchform-check-data-123456789012" && output.fan_out_prefix == "fan-out/" && output.kms_key_arn == null
    error_message = "Outputs must name the bucket, the fan-out prefix and the key."
  }
}

run "bad_names_are_refused" {
  command = plan

  variables {
    name = "Batchform_Data"
  }

  expect_failures = [var.name]
}

run "an_alias_is_refused_as_the_key" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:alias/data"
  }

  expect_failures = [var.kms_key_arn]
}

run "expiry_days_below_one_are_refused" {
  command = plan

  variables {
    fan_out_expiry_days = 0
  }

  expect_failures = [var.fan_out_expiry_days]
}

run "a_prefix_without_its_slash_is_refused" {
  command = plan

  variables {
    fan_out_prefix = "fan-out"
  }

  expect_failures = [var.fan_out_prefix]
}
