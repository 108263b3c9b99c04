"""MiniStack as scripts/dev runs it: the published emulator with two corrections, so that it
authorizes what AWS authorizes and speaks the protocol AWS's endpoints speak.

AWS authorizes SQS's batch operations as their single forms: SendMessageBatch needs
sqs:SendMessage, DeleteMessageBatch sqs:DeleteMessage, ChangeMessageVisibilityBatch
sqs:ChangeMessageVisibility (the SQS Developer Guide's table of API actions and their IAM
permissions). MiniStack 1.5.33 asks for sqs:SendMessageBatch, an action AWS does not have,
so a role granted exactly what AWS needs would be refused locally.

The AWS SDK offers HTTP/2 and HTTP/1.1 over TLS; DynamoDB's and SQS's endpoints answer in
HTTP/1.1, and so does the emulator here (its server would otherwise accept HTTP/2, a
protocol the functions never speak to AWS). Everything else is the emulator as published.
"""

import sys

from hypercorn.config import Config
from ministack.core import iam_actions
from ministack.app import main

Config.alpn_protocols = ["http/1.1"]

SINGLE_FORM = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}

_published = iam_actions.extract_iam_action


def extract_iam_action(*args, **kwargs):
    action = _published(*args, **kwargs)
    return SINGLE_FORM.get(action, action)


# The emulator imports the function from its module at each request, so this replaces it
# everywhere.
iam_actions.extract_iam_action = extract_iam_action

if __name__ == "__main__":
    sys.exit(main())
