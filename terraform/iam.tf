# The test user: full DynamoDB rights through the AWS managed policy, and no KMS permission at all.
resource "aws_iam_user" "dynamo_test_user" {
  name = "${var.name_prefix}dynamo_test_user"
}

resource "aws_iam_user_policy_attachment" "dynamo_full_access" {
  user       = aws_iam_user.dynamo_test_user.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
}

# Credentials to act as the test user.
resource "aws_iam_access_key" "dynamo_test_user" {
  user = aws_iam_user.dynamo_test_user.name
}
