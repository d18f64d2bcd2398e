# The permissions of the role that deploys batchform to one account, as a JSON document to
# attach (for example with `aws iam put-role-policy`, or an aws_iam_role_policy elsewhere).

module "deployer" {
  source = "../.."

  account_name     = "dev"
  account_id       = "111111111111"
  region           = "eu-west-1"
  repository_names = ["hello", "fetch-and-run"]
}

output "policy_json" {
  description = "The deployer's policy."
  value       = module.deployer.policy_json
}
