import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
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

/**
 * A queue that holds what failed, for an operator to inspect and redrive: a `safeQueue` that
 * keeps its messages 14 days (the SQS maximum, the longest time to look). `unnamedBecause`
 * is for one that no queue's redrive policy names (a Lambda destination, an SNS
 * subscription's), which cdk-nag cannot tell from a queue lacking its own dead-letter queue:
 * why it needs none.
 */
export function deadLetterQueue(
  scope: Construct, id: string, removalPolicy: RemovalPolicy, unnamedBecause?: string,
): sqs.Queue {
  const queue = safeQueue(scope, id, { retentionPeriod: Duration.days(14), removalPolicy });
  if (unnamedBecause) {
    Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: unnamedBecause });
  }
  return queue;
}

/** The user events queue and the dead-letter queue that catches what keeps failing. */
export class EventQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetters: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventQueueProps) {
    super(scope, id);
    this.deadLetters = deadLetterQueue(this, 'DeadLetters', props.deadLettersRemovalPolicy);

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
