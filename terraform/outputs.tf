output "kms_key_id" {
  description = "ID of the customer managed key."
  value       = aws_kms_key.dynamodb_key.id
}

output "kms_key_arn" {
  description = "ARN of the customer managed key (the table's SSE names the key by this ARN)."
  value       = aws_kms_key.dynamodb_key.arn
}

output "dynamodb_table_name" {
  value = aws_dynamodb_table.encrypted_table.name
}

output "test_user_name" {
  value = aws_iam_user.dynamo_test_user.name
}

output "test_user_arn" {
  value = aws_iam_user.dynamo_test_user.arn
}

output "test_user_access_key_id" {
  value = aws_iam_access_key.dynamo_test_user.id
}

output "test_user_secret_access_key" {
  description = "Secret of the test user's access key."
  value       = aws_iam_access_key.dynamo_test_user.secret
  sensitive   = true
}
