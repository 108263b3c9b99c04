import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { skipCheckov } from './checkov';

export interface EventQueueProps {
  /** The consuming function's timeout. */
  readonly consumerTimeout: Duration;
  /** The event source mapping's batching window (adds to the time a batch is in flight). */
  readonly consumerBatchingWindow: Duration;
  /** What happens to the dead-letter queue (and the events in it) when the stack is deleted. */
  readonly deadLettersRemovalPolicy: RemovalPolicy;
  /** Replaces the visibility timeout derived from the consumer's (local tests only). */
  readonly visibilityTimeout?: Duration;
}

/** Deliveries before a message moves to the dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;

/**
 * A queue that refuses requests without TLS and is encrypted at rest with SQS managed keys
 * (SSE-SQS): every queue of the stack is one.
 */
export function safeQueue(
  scope: Construct, id: string, props: Omit<sqs.QueueProps, 'enforceSSL' | 'encryption' | 'encryptionMasterKey'>,
): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    ...props,
    enforceSSL: true,
    encryption: sqs.QueueEncryption.SQS_MANAGED,
  });
  skipCheckov(queue, {
    CKV_AWS_27: 'Encrypted at rest with SQS managed keys (SqsManagedSseEnabled: true), which the '
      + 'check does not recognise (it looks for KmsMasterKeyId). Who may read is set by IAM grants.',
  });
  return queue;
}

/** The user events queue and the dead-letter queue that catches what keeps failing. */
export class EventQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetters: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventQueueProps) {
    super(scope, id);
    this.deadLetters = safeQueue(this, 'DeadLetters', {
      // The SQS maximum: the longest time an operator has to inspect and redrive.
      retentionPeriod: Duration.days(14),
      removalPolicy: props.deadLettersRemovalPolicy,
    });

    this.queue = safeQueue(this, 'Queue', {
      // AWS's rule for Lambda consumers: at least 6x the function timeout plus the batching
      // window, so SQS does not redeliver a message whose batch is still being processed
      // (throttled invocations are retried while the message stays invisible).
      visibilityTimeout: props.visibilityTimeout ?? Duration.seconds(
        6 * props.consumerTimeout.toSeconds() + props.consumerBatchingWindow.toSeconds(),
      ),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
  }
}
