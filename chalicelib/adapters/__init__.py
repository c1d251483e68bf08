"""The outside world: PostgreSQL, SQS, DynamoDB, HTTP, JWT and the clock."""
