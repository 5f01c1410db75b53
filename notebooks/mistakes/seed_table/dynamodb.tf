# The table exactly as the seed tutorial wrote it: on-demand billing AND a provisioned capacity.
# Notebook 02 plans this folder to see what the AWS provider says about it.
resource "aws_dynamodb_table" "encrypted_table" {
  name           = "my-encrypted-table"
  billing_mode   = "PAY_PER_REQUEST"
  hash_key       = "id"
  read_capacity  = 5
  write_capacity = 5

  attribute {
    name = "id"
    type = "S"
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.dynamodb_key.arn
  }
}
