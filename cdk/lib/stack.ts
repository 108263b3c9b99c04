import * as path from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Grant } from 'aws-cdk-lib/aws-iam';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { Alarms } from './alarms';
import { Dashboard } from './dashboard';
import { ERP_CREDENTIALS, MIRROR_CREDENTIALS, credentialsSecret, secretArn } from './erp-credentials';
import { EventQueue } from './event-queue';
import { EventTopic } from './event-topic';
import {
  BATCH_CONCURRENCY, Functions, PROCESSOR_TIMEOUT, RECONCILE_SCHEDULE_MINUTES, RELAY_SCHEDULE_MINUTES,
  RELAY_STREAM_BATCH_SIZE, RELAY_STREAM_MAX_RECORD_AGE, RELAY_STREAM_RETRY_ATTEMPTS,
} from './functions';
import { CrmErpMetrics, metricsNamespace, SERVICE } from './metrics';
import { RestApi } from './rest-api';
import { Tables } from './tables';

/** Settings a deployer chooses with `-c key=value` (see docs/configuration.md). */
export interface CrmErpConfig {
  /** `dev` (the default) may destroy its data with the stack; every other stage retains it. */
  readonly stage: string;
  readonly architecture: lambda.Architecture;
  /**
   * The Cargo profile the functions are built with: `release` (the default, what AWS gets:
   * size-tuned, fat LTO) or `local` (release's semantics, unoptimized, for the local
   * stack's builds: minutes shorter; see docs/local-stack.md).
   */
  readonly buildProfile?: BuildProfile;
  /**
   * Who publishes the event crm-api writes with a user (crm-api's `OUTBOX_DELIVERY`):
   * `stream` (the default): crm-api only writes, and the Users table's stream triggers
   * outbox-relay, which publishes the new events and clears their marks; `request`: crm-api
   * publishes in the request, after its write, then clears the mark. Either way the relay's
   * scheduled sweep sends what is still pending after the grace period.
   */
  readonly outboxDelivery?: OutboxDelivery;
  /** Most erp-processor instances the queue drives at once: protects the ERP. */
  readonly maxConcurrency: number;
  /**
   * Records of a batch each erp-processor instance handles at once (1 to BATCH_CONCURRENCY,
   * the batch size). The ERP sees at most maxConcurrency x batchConcurrency calls from the
   * queue in flight (output ErpConcurrencyCeiling); POST /events adds the API's, throttled.
   */
  readonly batchConcurrency: number;
  /**
   * The ERP erp-processor calls, with a bearer token from the ErpCredentials secret: https,
   * or http to a loopback host (a local fake ERP). Unset: the processor simulates the ERP.
   */
  readonly erpEndpointUrl?: string;
  /**
   * The CRM crm-mirror calls (a Salesforce-style REST API), with a bearer token from the
   * CrmMirrorCredentials secret; the same rules as erpEndpointUrl. Unset: the mirror simulates it.
   */
  readonly mirrorEndpointUrl?: string;
  readonly alarmEmail?: string;
  /**
   * Overrides the events queue's visibility timeout (6x the processor's timeout). For the
   * local stack's tests only: a failed record is retried after this long, so a poison
   * record reaches the dead-letter queue in seconds. The processor's timeout shrinks to it
   * when it is shorter, since Lambda requires a visibility timeout at least the consumer's.
   */
  readonly queueVisibilityTimeout?: Duration;
  /** Overrides the relay's grace period (`OUTBOX_GRACE_SECONDS`), for the local stack's tests. */
  readonly outboxGrace?: Duration;
  /** Minutes between two reconciler runs (1 to 1440; RECONCILE_SCHEDULE_MINUTES by default). */
  readonly reconcileMinutes: number;
  /** Overrides reconciler's settling time (`RECONCILE_SETTLE_SECONDS`), for the local stack's tests. */
  readonly reconcileSettle?: Duration;
  /**
   * Days of point-in-time recovery every table keeps (1 to 35). A deleted user's name and
   * email can be restored from the backups this long after their erasure.
   */
  readonly recoveryPeriodDays: number;
}

export const DEFAULT_MAX_CONCURRENCY = 10;

/** The Cargo profiles of the workspace's Cargo.toml the functions may be built with. */
export const BUILD_PROFILES = ['release', 'local'] as const;
export type BuildProfile = typeof BUILD_PROFILES[number];

/** Who publishes a written event (context outboxDelivery, crm-api's `OUTBOX_DELIVERY`); the first is the default. */
export const OUTBOX_DELIVERIES = ['stream', 'request'] as const;
export type OutboxDelivery = typeof OUTBOX_DELIVERIES[number];

/** DynamoDB's own default, the longest point-in-time recovery period it keeps. */
export const DEFAULT_RECOVERY_PERIOD_DAYS = 35;

/** The stage whose data is disposable. */
export const DEV_STAGE = 'dev';

/** The stack of a stage: `CrmErp-dev`, `CrmErp-prod`, … */
export function stackName(stage: string): string {
  return `CrmErp-${stage}`;
}

/** Reads and checks the context keys; a bad value fails the synth with a clear message. */
export function configFromContext(scope: Construct): CrmErpConfig {
  const get = (key: string): unknown => scope.node.tryGetContext(key);

  const stage = String(get('stage') ?? DEV_STAGE);
  if (!/^[a-z][a-z0-9-]{0,29}$/.test(stage)) {
    throw new Error(`context stage=${stage}: use lowercase letters, digits and '-' (at most 30)`);
  }

  const arch = String(get('architecture') ?? 'arm64');
  const architectures: Record<string, lambda.Architecture> = {
    arm64: lambda.Architecture.ARM_64,
    x86_64: lambda.Architecture.X86_64,
  };
  const architecture = architectures[arch];
  if (!architecture) {
    throw new Error(`context architecture=${arch}: use arm64 or x86_64`);
  }

  const buildProfile = String(get('buildProfile') ?? 'release') as BuildProfile;
  if (!BUILD_PROFILES.includes(buildProfile)) {
    throw new Error(`context buildProfile=${buildProfile}: use ${BUILD_PROFILES.join(' or ')}`);
  }

  const outboxDelivery = String(get('outboxDelivery') ?? OUTBOX_DELIVERIES[0]) as OutboxDelivery;
  if (!OUTBOX_DELIVERIES.includes(outboxDelivery)) {
    throw new Error(`context outboxDelivery=${outboxDelivery}: use ${OUTBOX_DELIVERIES.join(' or ')}`);
  }

  const rawConcurrency = get('maxConcurrency') ?? DEFAULT_MAX_CONCURRENCY;
  const maxConcurrency = Number(rawConcurrency);
  // The limits of an SQS event source's maximum concurrency.
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 2 || maxConcurrency > 1000) {
    throw new Error(`context maxConcurrency=${rawConcurrency}: use an integer from 2 to 1000`);
  }

  const rawBatch = get('batchConcurrency') ?? BATCH_CONCURRENCY;
  const batchConcurrency = Number(rawBatch);
  // More workers than a batch has records would have nothing to do.
  if (!Number.isInteger(batchConcurrency) || batchConcurrency < 1 || batchConcurrency > BATCH_CONCURRENCY) {
    throw new Error(`context batchConcurrency=${rawBatch}: use an integer from 1 to ${BATCH_CONCURRENCY}`);
  }

  const endpoint = (key: string, secret: string): string | undefined => {
    const raw = get(key);
    if (raw === undefined || raw === '') return undefined;
    checkEndpointUrl(key, String(raw), secret);
    return String(raw);
  };
  const erpEndpointUrl = endpoint('erpEndpointUrl', ERP_CREDENTIALS.id);
  const mirrorEndpointUrl = endpoint('mirrorEndpointUrl', MIRROR_CREDENTIALS.id);

  const rawRecovery = get('recoveryPeriodDays') ?? DEFAULT_RECOVERY_PERIOD_DAYS;
  const recoveryPeriodDays = Number(rawRecovery);
  // The bounds of DynamoDB's point-in-time recovery period.
  if (!Number.isInteger(recoveryPeriodDays) || recoveryPeriodDays < 1 || recoveryPeriodDays > 35) {
    throw new Error(`context recoveryPeriodDays=${rawRecovery}: use a whole number of days from 1 to 35`);
  }

  const email = get('alarmEmail');
  const alarmEmail = email === undefined || email === '' ? undefined : String(email);
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+$/.test(alarmEmail)) {
    throw new Error(`context alarmEmail=${alarmEmail}: not an email address`);
  }

  const seconds = (key: string, min: number, max: number): Duration | undefined => {
    const raw = get(key);
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`context ${key}=${raw}: use a whole number of seconds from ${min} to ${max}`);
    }
    return Duration.seconds(n);
  };
  // At least 1 s, the shortest Lambda timeout (the processor's follows it); at most SQS's 12 h.
  const queueVisibilityTimeout = seconds('queueVisibilitySeconds', 1, 43_200);
  const outboxGrace = seconds('outboxGraceSeconds', 0, 3_600);
  const reconcileSettle = seconds('reconcileSettleSeconds', 0, 86_400);

  const rawMinutes = get('reconcileMinutes') ?? RECONCILE_SCHEDULE_MINUTES;
  const reconcileMinutes = Number(rawMinutes);
  // Every minute at most (EventBridge's finest rate), once a day at least.
  if (!Number.isInteger(reconcileMinutes) || reconcileMinutes < 1 || reconcileMinutes > 1_440) {
    throw new Error(`context reconcileMinutes=${rawMinutes}: use a whole number of minutes from 1 to 1440`);
  }

  return {
    stage, architecture, buildProfile, outboxDelivery, maxConcurrency, batchConcurrency, erpEndpointUrl,
    mirrorEndpointUrl, alarmEmail,
    queueVisibilityTimeout, outboxGrace, reconcileMinutes, reconcileSettle, recoveryPeriodDays,
  };
}

/** Hosts an http ERP may be on: this machine only, where nobody else can read the token. */
function isLoopback(hostname: string): boolean {
  // URL has already normalized the host: IPv4 in dotted decimal (127.1 is 127.0.0.1), IPv6
  // compressed and bracketed, names lowercased.
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** The bearer token must not travel in clear text, but to a local fake downstream system. */
function checkEndpointUrl(key: string, raw: string, secret: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`context ${key}=${raw}: not a URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new Error(`context ${key}=${raw}: use https, or http only to a loopback host `
      + '(127.0.0.0/8, ::1, localhost)');
  }
  // The URL is a plain environment variable; the token has its secret.
  if (url.username !== '' || url.password !== '') {
    throw new Error(`context ${key}=${raw}: no credentials in the URL (the token goes in `
      + `the ${secret} secret)`);
  }
}

/**
 * How long the event source waits to fill a batch. At low traffic a record waits at most
 * this long (the ERP sync is asynchronous anyway); under load, batches fill up and the
 * queue drives fewer, fuller invocations.
 */
export const EVENT_BATCHING_WINDOW = Duration.seconds(1);

export interface CrmErpStackProps extends StackProps, CrmErpConfig {
  /** The Cargo workspace manifest; defaults to the repository's `Cargo.toml`. */
  readonly manifestPath?: string;
}

/** The whole system, one stack per stage: `npx cdk deploy` stands it all up. */
export class CrmErpStack extends Stack {
  readonly tables: Tables;
  /** The topic every event is published to once; each consumer subscribes a queue. */
  readonly eventsTopic: EventTopic;
  /** The ERP consumer's queue and dead-letter queue. */
  readonly events: EventQueue;
  /** The CRM mirror's queue and dead-letter queue. */
  readonly mirrorEvents: EventQueue;
  readonly functions: Functions;
  readonly restApi: RestApi;
  readonly alarms: Alarms;
  readonly dashboard: Dashboard;
  readonly relaySchedule: events.Rule;
  readonly reconcileSchedule: events.Rule;
  /** The ERP's bearer token, when context erpEndpointUrl is set. */
  readonly erpCredentials?: secretsmanager.Secret;
  /** The CRM mirror's bearer token, when context mirrorEndpointUrl is set. */
  readonly mirrorCredentials?: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: CrmErpStackProps) {
    super(scope, id, props);
    // Data of record outlives the stack except in dev, where stacks come and go.
    const keepData = props.stage === DEV_STAGE ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const outboxDelivery = props.outboxDelivery ?? OUTBOX_DELIVERIES[0];
    const streamDelivery = outboxDelivery === 'stream';

    this.tables = new Tables(this, 'Tables', {
      removalPolicy: keepData,
      deletionProtection: props.stage !== DEV_STAGE,
      recoveryPeriodDays: props.recoveryPeriodDays,
      usersStream: streamDelivery,
    });
    const visibility = props.queueVisibilityTimeout;
    const processorTimeout = visibility && visibility.toSeconds() < PROCESSOR_TIMEOUT.toSeconds()
      ? visibility : PROCESSOR_TIMEOUT;
    const consumerQueue = (id: string) => new EventQueue(this, id, {
      consumerTimeout: processorTimeout,
      consumerBatchingWindow: EVENT_BATCHING_WINDOW,
      deadLettersRemovalPolicy: keepData,
      visibilityTimeout: props.queueVisibilityTimeout,
    });
    this.events = consumerQueue('Events');
    this.mirrorEvents = consumerQueue('MirrorEvents');
    this.eventsTopic = new EventTopic(this, 'EventsTopic', { deliveryFailuresRemovalPolicy: keepData });
    // Both consumers take every event type, each from its own queue: one's outage or poison
    // record never delays the other.
    this.eventsTopic.subscribe(this.events.queue);
    this.eventsTopic.subscribe(this.mirrorEvents.queue);
    const metrics = new CrmErpMetrics(metricsNamespace(props.stage));
    // The secret outlives the stack outside dev, as the data does: its value was put in by hand.
    const erp = props.erpEndpointUrl === undefined ? undefined : {
      endpointUrl: props.erpEndpointUrl,
      credentials: credentialsSecret(this, ERP_CREDENTIALS, keepData),
    };
    this.erpCredentials = erp?.credentials;
    const mirror = props.mirrorEndpointUrl === undefined ? undefined : {
      endpointUrl: props.mirrorEndpointUrl,
      credentials: credentialsSecret(this, MIRROR_CREDENTIALS, keepData),
    };
    this.mirrorCredentials = mirror?.credentials;
    this.functions = new Functions(this, 'Functions', {
      metricsNamespace: metrics.namespace,
      batchConcurrency: props.batchConcurrency,
      erp,
      mirror,
      manifestPath: props.manifestPath ?? path.join(__dirname, '..', '..', 'Cargo.toml'),
      architecture: props.architecture,
      buildProfile: props.buildProfile ?? 'release',
      logRemovalPolicy: keepData,
      usersTable: this.tables.users,
      erpProcessedUsersTable: this.tables.erpProcessedUsers,
      erpEmployeesTable: this.tables.erpEmployees,
      eventsTopic: this.eventsTopic.topic,
      eventsQueue: this.events.queue,
      mirrorProcessedEventsTable: this.tables.mirrorProcessedEvents,
      mirrorContactsTable: this.tables.mirrorContacts,
      mirrorQueue: this.mirrorEvents.queue,
      processorTimeout,
      outboxDelivery,
      outboxGrace: props.outboxGrace,
      reconcileSettle: props.reconcileSettle,
    });
    const { crmApi, erpProcessor, crmMirror, outboxRelay, reconciler } = this.functions;

    // Every grant is here: one place to audit who may do what. Actions are exactly the
    // calls the functions make (no `*`), on the tables themselves (no index ARNs).
    // But one: outbox-relay's on-failure destination (lib/functions.ts) grants its role what
    // Lambda needs to send a failed run to the relay failures queue, with SqsDestination.
    // (The event sources below grant what their pollers need, with the role they run as.)
    for (const fn of [crmApi, erpProcessor, crmMirror, outboxRelay, reconciler]) {
      fn.logGroup.grantWrite(fn);
    }
    // crm-api: store::users puts (a user with its pending event), gets and scans
    // (paginated) users, and changes or deletes one with its pending event (UpdateItem); with
    // request delivery, UpdateItem also clears the pending mark once its publish succeeds.
    Grant.addToPrincipal({
      grantee: crmApi,
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
      resourceArns: [this.tables.users.tableArn],
    });
    const publish = (grantee: lambda.IFunction) => Grant.addToPrincipal({
      grantee,
      actions: ['sns:Publish'],
      resourceArns: [this.eventsTopic.topic.topicArn],
    });
    // With stream delivery crm-api never publishes: the relay, triggered by the Users table's
    // stream, does (below). It keeps EVENTS_TOPIC_ARN, which its configuration reads. (The
    // topic's key is AWS managed, alias/aws/sns: no publisher holds a KMS grant.)
    if (!streamDelivery) {
      // PublishBatch is authorized as sns:Publish.
      publish(crmApi);
    }
    // crm-api reads each consumer's view of a user for its sync status, and nothing more.
    Grant.addToPrincipal({
      grantee: crmApi,
      actions: ['dynamodb:GetItem'],
      resourceArns: [this.tables.erpEmployees.tableArn, this.tables.mirrorContacts.tableArn],
    });
    // outbox-relay: queries the pending-events index, publishes in batches (PublishBatch
    // is authorized as sns:Publish), clears each published event's mark; when the user has a
    // later pending event, GetItem reads it to move it to the head (store/users/outbox.rs).
    Grant.addToPrincipal({
      grantee: outboxRelay,
      actions: ['dynamodb:Query'],
      resourceArns: [`${this.tables.users.tableArn}/index/${Tables.PENDING_EVENTS_INDEX}`],
    });
    Grant.addToPrincipal({
      grantee: outboxRelay,
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resourceArns: [this.tables.users.tableArn],
    });
    publish(outboxRelay);
    if (streamDelivery) {
      // Each write of a user (its new image carries the event crm-api wrote) reaches the relay,
      // which publishes the new events and clears their marks. Its grant (grantStreamRead):
      // DescribeStream, GetRecords and GetShardIterator on the stream, and ListStreams, which
      // names no resource (Resource "*").
      outboxRelay.addEventSource(new DynamoEventSource(this.tables.users, {
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: RELAY_STREAM_BATCH_SIZE,
        retryAttempts: RELAY_STREAM_RETRY_ATTEMPTS,
        maxRecordAge: RELAY_STREAM_MAX_RECORD_AGE,
        // A batch that still fails after its retries (or outlives maxRecordAge) is skipped: its
        // description (shard and sequence numbers, not the records) goes to the relay
        // failures queue, which alarms. Its events stay pending in Users, and the scheduled
        // sweep below publishes them once they are older than the grace period.
        onFailure: new SqsDlq(this.functions.relayFailures),
        // Only writes that leave an event pending reach the relay: not the relay's own
        // clearings that empty the outbox (about half the records, each an invocation that
        // would send nothing).
        filters: [lambda.FilterCriteria.filter({
          dynamodb: { NewImage: { Outbox: { S: lambda.FilterRule.isEqual('pending') } } },
        })],
      }));
    }
    this.relaySchedule = new events.Rule(this, 'OutboxRelaySchedule', {
      description: 'Runs outbox-relay, which sends the users\' events still pending',
      schedule: events.Schedule.rate(Duration.minutes(RELAY_SCHEDULE_MINUTES)),
      // A failed run is not retried: the next one, a minute later, takes the same events
      // (nor does Lambda retry it: see the relay's asyncInvoke in lib/functions.ts).
      targets: [new targets.LambdaFunction(outboxRelay, { retryAttempts: 0 })],
    });
    // reconciler (user_sync::reconcile): scans Users in parallel segments and reads each
    // consumer's view of each page's users with BatchGetItem. It writes nothing.
    Grant.addToPrincipal({
      grantee: reconciler,
      actions: ['dynamodb:Scan'],
      resourceArns: [this.tables.users.tableArn],
    });
    Grant.addToPrincipal({
      grantee: reconciler,
      actions: ['dynamodb:BatchGetItem'],
      resourceArns: [this.tables.erpEmployees.tableArn, this.tables.mirrorContacts.tableArn],
    });
    this.reconcileSchedule = new events.Rule(this, 'ReconcileSchedule', {
      description: 'Runs reconciler, which compares the users with each consumer\'s view and reports drift',
      schedule: events.Schedule.rate(Duration.minutes(props.reconcileMinutes)),
      targets: [new targets.LambdaFunction(reconciler, { retryAttempts: 0 })],
    });
    this.grantConsumer(erpProcessor, this.tables.erpProcessedUsers, this.tables.erpEmployees, this.events,
      this.erpCredentials, props.maxConcurrency);
    this.grantConsumer(crmMirror, this.tables.mirrorProcessedEvents, this.tables.mirrorContacts, this.mirrorEvents,
      this.mirrorCredentials, props.maxConcurrency);

    this.restApi = new RestApi(this, 'RestApi', {
      crmApi,
      erpProcessor,
      logRemovalPolicy: keepData,
    });

    const oldestPendingEventAge = metrics.oldestPendingEventAge();
    // Named like the stack, so an operator finds the stage's dashboard, and alarms can name it.
    const dashboardName = stackName(props.stage);
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName,
      metrics,
      eventsQueue: this.events.queue,
      deadLetters: this.events.deadLetters,
      mirrorQueue: this.mirrorEvents.queue,
      mirrorDeadLetters: this.mirrorEvents.deadLetters,
      oldestPendingEventAge,
    });
    this.alarms = new Alarms(this, 'Alarms', {
      eventsQueue: this.events.queue,
      deadLetters: this.events.deadLetters,
      mirrorQueue: this.mirrorEvents.queue,
      mirrorDeadLetters: this.mirrorEvents.deadLetters,
      relayFailures: this.functions.relayFailures,
      relayStream: streamDelivery,
      deliveryFailures: this.eventsTopic.deliveryFailures,
      functions: {
        CrmApi: crmApi, ErpProcessor: erpProcessor, CrmMirror: crmMirror, OutboxRelay: outboxRelay, Reconciler: reconciler,
      },
      driftedUsers: metrics.driftedUsers().with({ period: Duration.minutes(props.reconcileMinutes) }),
      oldestPendingEventAge,
      erpErrorRate: metrics.erpErrorRate(),
      mirrorErrorRate: metrics.erpErrorRate(SERVICE.crmMirror),
      dashboardName,
      apiStage: this.restApi.api.deploymentStage,
      alarmEmail: props.alarmEmail,
    });

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output('CrmApiUrl', this.restApi.crmApiUrl, 'CRM users endpoint (IAM/SigV4)');
    output('EventsUrl', this.restApi.eventsUrl, 'ERP events endpoint (IAM/SigV4)');
    output('UsersTableName', this.tables.users.tableName, 'DynamoDB table of CRM users');
    output('ErpProcessedUsersTableName', this.tables.erpProcessedUsers.tableName,
      'DynamoDB table of processed ERP events');
    output('ErpEmployeesTableName', this.tables.erpEmployees.tableName,
      'DynamoDB table of the ERP\'s view of each user');
    output('EventsTopicArn', this.eventsTopic.topic.topicArn,
      'SNS topic every user event is published to once (created, updated, deleted)');
    output('EventsQueueUrl', this.events.queue.queueUrl,
      'The ERP consumer\'s SQS queue of the users\' events, subscribed to the topic');
    output('DeadLetterQueueUrl', this.events.deadLetters.queueUrl,
      'SQS dead-letter queue of events that failed 5 deliveries');
    output('MirrorQueueUrl', this.mirrorEvents.queue.queueUrl,
      'The CRM mirror\'s SQS queue of the users\' events, subscribed to the topic');
    output('MirrorDeadLetterQueueUrl', this.mirrorEvents.deadLetters.queueUrl,
      'SQS dead-letter queue of the CRM mirror\'s events that failed 5 deliveries');
    output('CrmMirrorContactsTableName', this.tables.mirrorContacts.tableName,
      'DynamoDB table of the CRM mirror\'s view of each user');
    output('CrmMirrorProcessedEventsTableName', this.tables.mirrorProcessedEvents.tableName,
      'DynamoDB table of the events the CRM mirror processed');
    output('ErpConcurrencyCeiling', String(props.maxConcurrency * props.batchConcurrency),
      'Most ERP calls in flight from the events queue: maxConcurrency x batchConcurrency');
    output('DashboardName', this.dashboard.dashboard.dashboardName, 'CloudWatch dashboard of the stage');
    if (this.erpCredentials) {
      output('ErpCredentialsSecretArn', secretArn(this.erpCredentials),
        'Secrets Manager secret of the ERP\'s bearer token: put the real token in it');
    }
    if (this.mirrorCredentials) {
      output('CrmMirrorCredentialsSecretArn', secretArn(this.mirrorCredentials),
        'Secrets Manager secret of the CRM mirror\'s bearer token: put the real token in it');
    }
  }

  /**
   * A consumer's grants (functions/user-sync/src/store/processed.rs and employees.rs): on
   * its processed table, GetItem looks an event up, a conditional PutItem writes its record
   * once processed, UpdateItem counts a duplicate; a deletion queries ByUserId, reads which
   * records still hold a name or email with BatchGetItem and erases those with UpdateItem.
   * On its view, UpdateItem leases the user and writes its view, DeleteItem ends a lease on
   * a user without one. A record whose user another delivery holds is sent back to its
   * queue, delayed (erp-processor/src/deferral.rs). GetSecretValue on its token (at cold
   * start and after a 401), not grantRead, which adds DescribeSecret, never called. Then its
   * queue's event source, which grants the poller's receive, delete and visibility calls.
   */
  private grantConsumer(
    fn: lambda.IFunction,
    processed: dynamodb.ITable,
    view: dynamodb.ITable,
    events: EventQueue,
    credentials: secretsmanager.Secret | undefined,
    maxConcurrency: number,
  ): void {
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      resourceArns: [processed.tableArn],
    });
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['dynamodb:Query'],
      resourceArns: [`${processed.tableArn}/index/${Tables.BY_USER_ID_INDEX}`],
    });
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['dynamodb:DeleteItem', 'dynamodb:UpdateItem'],
      resourceArns: [view.tableArn],
    });
    events.queue.grant(fn, 'sqs:SendMessage');
    if (credentials) {
      Grant.addToPrincipal({
        grantee: fn,
        actions: ['secretsmanager:GetSecretValue'],
        resourceArns: [secretArn(credentials)],
      });
    }
    fn.addEventSource(new SqsEventSource(events.queue, {
      // Always BATCH_CONCURRENCY records: by default one concurrent wave of the consumer's
      // workers; with a lower batchConcurrency, the batch's records queue for its workers. So
      // at most maxConcurrency x batchConcurrency calls are in flight from the queue.
      batchSize: BATCH_CONCURRENCY,
      maxBatchingWindow: EVENT_BATCHING_WINDOW,
      // A failed record is retried alone; the rest of its batch is deleted.
      reportBatchItemFailures: true,
      maxConcurrency,
    }));
  }
}
