provider "aws" {
  region = var.region

  # Tags the provider adds to every resource that takes tags (a resource's own tags win). Empty by
  # default; in real AWS kmslab passes kmslab:lab = <lab id>, which is how `kmslab cleanup` finds them.
  default_tags {
    tags = var.default_tags
  }
}
