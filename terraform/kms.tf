# Step 1: a customer managed KMS key, ours alone.
#
# No `policy` argument: AWS then gives the key its default key policy, one statement that lets the
# account (arn:aws:iam::<account>:root) use IAM policies to grant access to the key. So a user can
# use the key only if an IAM policy allows it, and AmazonDynamoDBFullAccess does not.
resource "aws_kms_key" "dynamodb_key" {
  description             = "KMS key for encrypting DynamoDB tables"
  deletion_window_in_days = 7
}
