"""MiniStack as scripts/dev runs it: the published emulator with three corrections, so that it
authorizes what AWS authorizes, records calls as CloudTrail names them, and speaks the protocol
AWS's endpoints speak.

AWS authorizes SQS's batch operations as their single forms: SendMessageBatch needs
sqs:SendMessage, DeleteMessageBatch sqs:DeleteMessage, ChangeMessageVisibilityBatch
sqs:ChangeMessageVisibility (the SQS Developer Guide's table of API actions and their IAM
permissions), and SNS's PublishBatch needs sns:Publish (the SNS API Reference's
PublishBatch). MiniStack 1.5.33 asks for sqs:SendMessageBatch and sns:PublishBatch, actions
AWS does not have, so a role granted exactly what AWS needs would be refused locally.

CloudTrail names a call by its action, and so must the emulator's recording: MiniStack 1.5.33
reads a query-protocol call's Action from the URL only, so an SDK's SNS call, whose Action
travels in the form-encoded body, was recorded as "POST.sns" and could not be compared with
the grants. The recording is given the body's parameters under the URL's, as its
authorization already is.

The AWS SDK offers HTTP/2 and HTTP/1.1 over TLS; DynamoDB's and SQS's endpoints answer in
HTTP/1.1, and so does the emulator here (its server would otherwise accept HTTP/2, a
protocol the functions never speak to AWS). Everything else is the emulator as published.
"""

import sys

from hypercorn.config import Config
from ministack import app
from ministack.core import iam_actions
from ministack.app import main

Config.alpn_protocols = ["http/1.1"]

SINGLE_FORM = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sns:PublishBatch": "sns:Publish",
}

_published = iam_actions.extract_iam_action


def extract_iam_action(*args, **kwargs):
    action = _published(*args, **kwargs)
    return SINGLE_FORM.get(action, action)


# The emulator imports the function from its module at each request, so this replaces it
# everywhere.
iam_actions.extract_iam_action = extract_iam_action

_record = app._maybe_record_cloudtrail


def record_cloudtrail(service, method, path, headers, body, query_params, *rest):
    params = app._routing_params(method, path, headers, body, query_params)
    return _record(service, method, path, headers, body, params, *rest)


# Called by name from the dispatch in the same module, so this replaces it there.
app._maybe_record_cloudtrail = record_cloudtrail

if __name__ == "__main__":
    sys.exit(main())
