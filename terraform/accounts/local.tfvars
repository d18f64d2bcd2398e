# Workload of the built-in local account (the embedded local stack).

compute = {
  type      = "FARGATE"
  max_vcpus = 4
}

# Throwaway account: destroy may delete repositories with their images.
force_delete_repositories = true

images = {
  hello           = { build = 1 }
  fetch-and-run   = { build = 1 }
  csv-stats       = { build = 1 }
  async-operation = { build = 1 }
}

jobs = {
  hello = {
    image  = "hello"
    vcpus  = 0.25
    memory = 512
  }

  fetch-and-run = {
    image           = "fetch-and-run"
    vcpus           = 0.25
    memory          = 512
    timeout_seconds = 900
    policy_statements = [{
      sid       = "ReadScripts"
      actions   = ["s3:GetObject"]
      resources = ["arn:aws:s3:::batchform-local-data/scripts/*"]
    }]
  }

  csv-stats = {
    image           = "csv-stats"
    vcpus           = 0.25
    memory          = 512
    timeout_seconds = 600
    policy_statements = [
      {
        sid       = "ReadInputs"
        actions   = ["s3:GetObject"]
        resources = ["arn:aws:s3:::batchform-local-data/inputs/*"]
      },
      {
        sid       = "WriteResults"
        actions   = ["s3:PutObject"]
        resources = ["arn:aws:s3:::batchform-local-data/results/*"]
      },
    ]
  }

  async-operation = {
    image           = "async-operation"
    vcpus           = 0.25
    memory          = 512
    timeout_seconds = 900
    environment     = { OPERATIONS_TABLE = "batchform-local-operations" }
    policy_statements = [
      {
        sid       = "ReadPackagesAndPayloads"
        actions   = ["s3:GetObject"]
        resources = ["arn:aws:s3:::batchform-local-data/operations/*"]
      },
      {
        sid       = "RecordOperations"
        actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
        resources = ["arn:aws:dynamodb:us-east-1:123456789012:table/batchform-local-operations"]
      },
    ]
  }
}
