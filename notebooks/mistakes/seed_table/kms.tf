# A copy of ../../../terraform/kms.tf, so that this folder plans on its own.
resource "aws_kms_key" "dynamodb_key" {
  description             = "KMS key for encrypting DynamoDB tables"
  deletion_window_in_days = 7
}
