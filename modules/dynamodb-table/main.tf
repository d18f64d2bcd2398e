resource "aws_dynamodb_table" "this" {
  name                        = var.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = var.hash_key
  range_key                   = var.range_key
  deletion_protection_enabled = var.deletion_protection
  tags                        = var.tags

  # Only key attributes are declared; items hold any others.
  dynamic "attribute" {
    for_each = compact([var.hash_key, var.range_key])
    content {
      name = attribute.value
      type = "S"
    }
  }

  # Always KMS: enabled without a key ARN is the AWS managed key aws/dynamodb, never the AWS owned key.
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  # Always present, so that clearing ttl_attribute turns TTL off rather than leaving it as it was.
  ttl {
    enabled        = var.ttl_attribute != null
    attribute_name = var.ttl_attribute
  }

  lifecycle {
    precondition {
      condition     = var.range_key != var.hash_key
      error_message = "range_key must differ from hash_key."
    }
    # Key attributes are strings here, and TTL only acts on a Number: such items would never expire.
    precondition {
      condition     = var.ttl_attribute == null || !contains(compact([var.hash_key, var.range_key]), coalesce(var.ttl_attribute, "-"))
      error_message = "ttl_attribute must not be a key attribute (hash_key or range_key): keys are strings and TTL needs a Number."
    }
  }
}
