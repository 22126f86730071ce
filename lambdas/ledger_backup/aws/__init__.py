"""Data access to DynamoDB: configured clients, the typed fast paths over its wire JSON, table reads."""
