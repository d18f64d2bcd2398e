# Workload of the built-in local account (the embedded local stack).

compute = {
  type      = "FARGATE"
  max_vcpus = 4
}

# Throwaway account: destroy may delete repositories with their images.
force_delete_repositories = true

images = {
  hello = { build = 1 }
}

jobs = {
  hello = {
    image  = "hello"
    vcpus  = 0.25
    memory = 512
  }
}
