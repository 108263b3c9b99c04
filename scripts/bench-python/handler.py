"""The Python peer of erp-processor, written the way a Python user would write it: boto3
clients created at import time, one SQS batch processed record by record, each event
recorded with a conditional put into the same ErpProcessedUsers table, failures reported
as batchItemFailures. Used only by scripts/bench.
"""

import json
import os
from datetime import datetime, timezone

import boto3

TABLE = os.environ["ERP_PROCESSED_TABLE_NAME"]
ERP_SYSTEM = os.environ.get("ERP_SYSTEM_NAME", "OracleFusion")

dynamodb = boto3.client("dynamodb")


def handler(event, context):
    failures = []
    for record in event.get("Records", []):
        try:
            process(record["body"])
        except Exception:  # noqa: BLE001 - any failure retries just this record
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def process(body):
    envelope = json.loads(body)
    user = envelope["user"]
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    item = {
        "EventId": {"S": envelope["eventId"]},
        "UserId": {"S": user["id"]},
        "UserName": {"S": user["name"]},
        "UserEmail": {"S": user["email"]},
        "ProcessedAt": {"S": now},
        "EventType": {"S": envelope["eventType"]},
        "Status": {"S": "Processed"},
        "EventTimestamp": {"S": envelope["timestamp"]},
        "ErpRecordId": {"S": "EMP-" + user["id"][:8]},
        "ErpSystem": {"S": ERP_SYSTEM},
    }
    try:
        dynamodb.put_item(
            TableName=TABLE,
            Item=item,
            ConditionExpression="attribute_not_exists(EventId)",
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        pass  # a redelivered event: already recorded, nothing to do
