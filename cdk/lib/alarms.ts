import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface AlarmsProps {
  readonly eventsQueue: sqs.IQueue;
  readonly deadLetters: sqs.IQueue;
  /** The CRM mirror's queue and its dead-letter queue. */
  readonly mirrorQueue: sqs.IQueue;
  readonly mirrorDeadLetters: sqs.IQueue;
  /**
   * outbox-relay's on-failure destination: a message is a scheduled run that failed or, with
   * stream delivery, a stream batch it failed on.
   */
  readonly relayFailures: sqs.IQueue;
  /**
   * The Users stream triggers outbox-relay (context outboxDelivery=stream): its failed batches
   * go to relayFailures too.
   */
  readonly relayStream?: boolean;
  /** The events topic's dead-letter queue: a message is an event SNS could not deliver. */
  readonly deliveryFailures: sqs.IQueue;
  /** Functions whose errors page someone, by a readable name used in alarm ids. */
  readonly functions: Record<string, lambda.IFunction>;
  readonly apiStage: apigw.Stage;
  /** Age of the oldest event the outbox relay found pending, as it reports each run. */
  readonly oldestPendingEventAge: cloudwatch.IMetric;
  /**
   * Users whose downstream view drifted, as reconciler counts each run, over its schedule's
   * period (so the alarm holds from one run to the next).
   */
  readonly driftedUsers: cloudwatch.IMetric;
  /** The share of erp-processor's ERP calls that failed (lib/metrics.ts); alarmed over PERIOD. */
  readonly erpErrorRate: cloudwatch.Metric;
  /** The share of crm-mirror's calls to the CRM that failed; alarmed over PERIOD. */
  readonly mirrorErrorRate: cloudwatch.Metric;
  /** The stage's dashboard, named in the descriptions of the alarms it helps explain. */
  readonly dashboardName: string;
  /** Subscribed to the alarm topic by email when given. */
  readonly alarmEmail?: string;
}

/** Alarms are evaluated over this period; each fires on the first bad period. */
const PERIOD = Duration.minutes(5);

/**
 * Anything that means an event or a request was lost or failed: a message in the
 * dead-letter queue or in the relay's failures queue, a function error, a 5XX from the API;
 * and what means events are late: stuck in the outbox or waiting on the queue, or an ERP
 * failing its calls. Each alarm notifies the topic when it fires and when it recovers.
 * None uses metric math (the local emulator rejects alarms with Metrics).
 */
export class Alarms extends Construct {
  readonly topic: sns.Topic;
  /** Encrypts the topic. A customer managed key: CloudWatch cannot use the aws/sns key. */
  readonly topicKey: kms.Key;
  readonly deadLettersVisible: cloudwatch.Alarm;
  readonly mirrorDeadLettersVisible: cloudwatch.Alarm;
  readonly relayFailuresVisible: cloudwatch.Alarm;
  readonly deliveryFailuresVisible: cloudwatch.Alarm;
  readonly functionErrors: Record<string, cloudwatch.Alarm> = {};
  readonly apiServerErrors: cloudwatch.Alarm;
  readonly pendingEventsStale: cloudwatch.Alarm;
  readonly eventsQueueAgeHigh: cloudwatch.Alarm;
  readonly mirrorQueueAgeHigh: cloudwatch.Alarm;
  readonly erpErrorRateHigh: cloudwatch.Alarm;
  readonly mirrorErrorRateHigh: cloudwatch.Alarm;
  readonly driftFound: cloudwatch.Alarm;

  /** An event pending longer than this has missed several relay runs. */
  static readonly STALE_PENDING_SECONDS = 300;

  /**
   * An event on the queue longer than this has waited through several visibility timeouts
   * (about 3 minutes each) or behind a backlog: the processor or the ERP is not keeping up.
   */
  static readonly QUEUE_AGE_HIGH_SECONDS = 600;

  /** The share of ERP calls failing (0-1) above which someone should look: 10%. */
  static readonly ERP_ERROR_RATE_HIGH = 0.1;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const account = Stack.of(this).account;

    this.topicKey = new kms.Key(this, 'TopicKey', {
      description: 'Encrypts the CRM-ERP alarm topic',
      enableKeyRotation: true,
      // Only in-flight alarm notifications are encrypted with it: nothing to keep after
      // the topic is gone.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // CloudWatch encrypts the notifications it publishes to the topic.
    this.topicKey.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'], // in a key policy, "*" is this key
      conditions: { StringEquals: { 'aws:SourceAccount': account } },
    }));

    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'CRM-ERP alarms',
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    // A topic policy replaces SNS's default one, which let the account's services publish.
    this.topic.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [this.topic.topicArn],
      conditions: { StringEquals: { 'aws:SourceAccount': account } },
    }));
    if (props.alarmEmail) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }

    this.deadLettersVisible = this.alarm('DeadLettersVisible',
      props.deadLetters.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' }),
      'Events failed 5 deliveries and wait in the dead-letter queue: inspect, fix, redrive.');

    this.mirrorDeadLettersVisible = this.alarm('MirrorDeadLettersVisible',
      props.mirrorDeadLetters.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' }),
      'CRM mirror events failed 5 deliveries and wait in its dead-letter queue: inspect, fix, '
      + 'redrive (scripts/redrive --consumer crm-mirror).');

    this.relayFailuresVisible = this.alarm('RelayFailuresVisible',
      props.relayFailures.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' }),
      props.relayStream
        ? 'outbox-relay runs failed or expired unrun (each message holds the error), or Users stream '
          + 'batches failed (each message gives the batch\'s shard and sequence numbers); their events '
          + 'stay pending for the next scheduled run. Inspect, fix, then purge the queue.'
        : 'outbox-relay runs failed or expired unrun (each message holds the error); their events stay '
          + 'pending for the next run. Inspect, fix, then purge the queue.');

    this.deliveryFailuresVisible = this.alarm('DeliveryFailuresVisible',
      props.deliveryFailures.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' }),
      'SNS could not deliver events to a consumer\'s queue (its policy, or the queue gone): fix the '
      + 'subscription, then scripts/reconcile --repair re-sends the users it finds behind.');

    for (const [name, fn] of Object.entries(props.functions)) {
      this.functionErrors[name] = this.alarm(`${name}Errors`,
        fn.metricErrors({ period: PERIOD, statistic: 'Sum' }),
        `${name} returned errors (crashes, timeouts or unhandled failures).`);
    }

    this.apiServerErrors = this.alarm('ApiServerErrors',
      props.apiStage.metricServerError({ period: PERIOD, statistic: 'Sum' }),
      `The API (stage ${props.apiStage.stageName}) answered 5XX.`);

    this.pendingEventsStale = this.alarm('PendingEventsStale', props.oldestPendingEventAge,
      'A user\'s event has been pending in the outbox for over 5 minutes: the relay cannot '
      + 'publish to the events topic (see the OutboxRelay logs).', Alarms.STALE_PENDING_SECONDS);

    this.eventsQueueAgeHigh = this.alarm('EventsQueueAgeHigh',
      props.eventsQueue.metricApproximateAgeOfOldestMessage({ period: PERIOD, statistic: 'Maximum' }),
      `An event has waited over ${Alarms.QUEUE_AGE_HIGH_SECONDS / 60} minutes in the events queue: `
      + 'erp-processor or the ERP is not keeping up, or failing (see the dashboard '
      + `${props.dashboardName}).`, Alarms.QUEUE_AGE_HIGH_SECONDS);

    this.mirrorQueueAgeHigh = this.alarm('MirrorQueueAgeHigh',
      props.mirrorQueue.metricApproximateAgeOfOldestMessage({ period: PERIOD, statistic: 'Maximum' }),
      `An event has waited over ${Alarms.QUEUE_AGE_HIGH_SECONDS / 60} minutes in the CRM mirror's queue: `
      + 'crm-mirror or the CRM is not keeping up, or failing (see the CrmMirror logs).',
      Alarms.QUEUE_AGE_HIGH_SECONDS);

    // Average over 5 minutes of one 0-or-1 datum per call: the error rate, as a plain metric.
    this.erpErrorRateHigh = this.alarm('ErpErrorRateHigh', props.erpErrorRate.with({ period: PERIOD }),
      `More than ${Alarms.ERP_ERROR_RATE_HIGH * 100}% of erp-processor's ERP calls failed over 5 minutes `
      + '(see the ErpProcessor logs, "ERP call failed", and the dashboard '
      + `${props.dashboardName}).`, Alarms.ERP_ERROR_RATE_HIGH);

    this.mirrorErrorRateHigh = this.alarm('MirrorErrorRateHigh', props.mirrorErrorRate.with({ period: PERIOD }),
      `More than ${Alarms.ERP_ERROR_RATE_HIGH * 100}% of crm-mirror's calls to the CRM failed over 5 minutes `
      + '(see the CrmMirror logs, "ERP call failed" with service crm-mirror, and the dashboard '
      + `${props.dashboardName}).`, Alarms.ERP_ERROR_RATE_HIGH);

    this.driftFound = this.alarm('DriftFound', props.driftedUsers,
      'A consumer\'s view of some users differs from the CRM, and not because an event is on its way '
      + '(reconciler\'s DriftedUsers): run scripts/reconcile to list them, --repair to re-send what '
      + 'it can (docs/operations.md).');
  }

  /** Fires when the metric is above `threshold` for one period; no data means all is well. */
  private alarm(id: string, metric: cloudwatch.IMetric, description: string, threshold = 0): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      alarmDescription: description,
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const action = new actions.SnsAction(this.topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    return alarm;
  }
}
