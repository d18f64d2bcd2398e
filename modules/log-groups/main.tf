resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:KMS CMK is optional by design (kms_key_arn); CloudWatch Logs always encrypts at rest.
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (retention_in_days); batch job logs default to 30 days.
  for_each = var.names

  name              = each.value
  retention_in_days = var.retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}
