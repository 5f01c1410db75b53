variable "region" {
  description = "AWS region for every resource in this stack."
  type        = string
  default     = "us-east-1"
}

variable "default_tags" {
  description = "Tags added to every resource (the provider's default_tags). kmslab sets kmslab:lab in real AWS."
  type        = map(string)
  default     = {}
}

variable "name_prefix" {
  description = "Prepended to names so that several learners can share one account. Empty offline."
  type        = string
  default     = ""
}
