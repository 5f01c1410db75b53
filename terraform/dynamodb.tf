# Step 2: the table, encrypted at rest with the key from kms.tf.
resource "aws_dynamodb_table" "encrypted_table" {
  name         = "${var.name_prefix}my-encrypted-table"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  # The seed tutorial also set read_capacity = 5 and write_capacity = 5. With on-demand billing
  # (PAY_PER_REQUEST) the AWS provider refuses them at plan time:
  #   read_capacity can not be set when billing_mode is "PAY_PER_REQUEST"
  # so they are left out. They belong to billing_mode = "PROVISIONED" only.

  attribute {
    name = "id"
    type = "S"
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.dynamodb_key.arn
  }
}
