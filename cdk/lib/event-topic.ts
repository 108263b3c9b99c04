import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { deadLetterQueue } from './event-queue';

/** The user events' types, as the `eventType` message attribute carries them. */
export const EVENT_TYPES = ['UserCreated', 'UserUpdated', 'UserDeleted'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * The topic every user event is published to once (by outbox-relay, crm-api too with request
 * delivery, and the operator's backfill and reconcile): each consumer subscribes its own
 * queue, so adding one changes no producer.
 */
export interface EventTopicProps {
  /** What happens to the undelivered events when the stack is deleted. */
  readonly deliveryFailuresRemovalPolicy: RemovalPolicy;
}

export class EventTopic extends Construct {
  readonly topic: sns.Topic;
  /**
   * The events SNS could not deliver to a subscribed queue (its policy refused, the queue is
   * gone): each subscription's dead-letter queue. A producer clears its outbox mark once SNS
   * accepts an event, so without it such an event would be lost.
   */
  readonly deliveryFailures: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventTopicProps) {
    super(scope, id);
    this.deliveryFailures = deadLetterQueue(this, 'DeliveryFailures', props.deliveryFailuresRemovalPolicy,
      'This queue is itself a dead-letter queue: the subscriptions\' redrive target for '
      + 'events SNS could not deliver. No function consumes it.');
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'CRM user events',
      // AWS's managed key for SNS: the producers' roles may use it through SNS without a
      // grant of their own, and SNS decrypts before it delivers to the SSE-SQS queues.
      masterKey: kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
  }

  /**
   * Subscribes a consumer's queue with raw message delivery: the queue receives the event's
   * JSON as its body and the `eventType` and `correlationId` message attributes, exactly as a
   * producer published them (the contract `POST /events` and the consumers read). With
   * `only`, the queue receives those event types alone. The queue's policy gains the
   * statement that lets this topic, and no other, send to it; what SNS cannot deliver goes
   * to `deliveryFailures`.
   */
  subscribe(queue: sqs.IQueue, only?: readonly EventType[]): sns.Subscription {
    return this.topic.addSubscription(new subscriptions.SqsSubscription(queue, {
      rawMessageDelivery: true,
      deadLetterQueue: this.deliveryFailures,
      filterPolicy: only && {
        eventType: sns.SubscriptionFilter.stringFilter({ allowlist: [...only] }),
      },
    }));
  }
}
