# The runbook's restore script (Option 2 of "DynamoDB Backup and Restore"), verbatim but for the
# two names it hard-codes, which come from the command line here: BACKUP_FILE TABLE.
# It is the baseline our restore is compared with, so it is kept exactly as written: the whole
# file is loaded, numbers go through Decimal, and the resource's batch_writer sends the items.
# Not product code, so neither linted, formatted nor type-checked:
# ruff: noqa
# mypy: ignore-errors
# fmt: off
import json
import sys  # added: the two names come from the command line
import boto3
from decimal import Decimal

# Load backup
with open(sys.argv[1], 'r') as f:  # was 'data/dynamodb_backup_jsmith-pipeline-ledger_2026-02-14.json'
    backup = json.load(f)

dynamodb = boto3.resource('dynamodb')
table = dynamodb.Table(sys.argv[2])  # was 'jsmith-pipeline-ledger'

# Convert numbers to Decimal for DynamoDB
def convert_decimals(obj):
    if isinstance(obj, dict):
        if 'N' in obj:
            return Decimal(obj['N'])
        elif 'S' in obj:
            return obj['S']
        elif 'M' in obj:
            return {k: convert_decimals(v) for k, v in obj['M'].items()}
        elif 'L' in obj:
            return [convert_decimals(item) for item in obj['L']]
        else:
            return {k: convert_decimals(v) for k, v in obj.items()}
    return obj

# Restore items in batches of 25 (DynamoDB limit)
items = [convert_decimals(item) for item in backup['Items']]
for i in range(0, len(items), 25):
    batch = items[i:i+25]
    with table.batch_writer() as writer:
        for item in batch:
            writer.put_item(Item=item)
    print(f'Restored {min(i+25, len(items))}/{len(items)} items')
