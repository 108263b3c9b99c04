import * as path from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Grant } from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { Alarms } from './alarms';
import { EventQueue } from './event-queue';
import { BATCH_CONCURRENCY, Functions, PROCESSOR_TIMEOUT, RELAY_SCHEDULE_MINUTES } from './functions';
import { RestApi } from './rest-api';
import { Tables } from './tables';

/** Settings a deployer chooses with `-c key=value` (see the README, "Configuration"). */
export interface CrmErpConfig {
  /** `dev` (the default) may destroy its data with the stack; every other stage retains it. */
  readonly stage: string;
  readonly architecture: lambda.Architecture;
  /** Most erp-processor instances the queue drives at once: protects the ERP. */
  readonly maxConcurrency: number;
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
}

export const DEFAULT_MAX_CONCURRENCY = 10;

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

  const rawConcurrency = get('maxConcurrency') ?? DEFAULT_MAX_CONCURRENCY;
  const maxConcurrency = Number(rawConcurrency);
  // The limits of an SQS event source's maximum concurrency.
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 2 || maxConcurrency > 1000) {
    throw new Error(`context maxConcurrency=${rawConcurrency}: use an integer from 2 to 1000`);
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

  return { stage, architecture, maxConcurrency, alarmEmail, queueVisibilityTimeout, outboxGrace };
}

/**
 * How long the event source waits to fill a batch. At low traffic a record waits at most
 * this long (the ERP sync is asynchronous anyway); under load, batches fill up and the
 * queue drives fewer, fuller invocations.
 */
export const EVENT_BATCHING_WINDOW = Duration.seconds(1);

/** The relay's metric of the oldest pending event (see functions/outbox-relay/src/metrics.rs). */
export const OLDEST_PENDING_EVENT_AGE = 'OldestPendingEventAgeSeconds';

export interface CrmErpStackProps extends StackProps, CrmErpConfig {
  /** The Cargo workspace manifest; defaults to the repository's `Cargo.toml`. */
  readonly manifestPath?: string;
}

/** The whole system, one stack per stage: `npx cdk deploy` stands it all up. */
export class CrmErpStack extends Stack {
  readonly tables: Tables;
  readonly events: EventQueue;
  readonly functions: Functions;
  readonly restApi: RestApi;
  readonly alarms: Alarms;
  readonly relaySchedule: events.Rule;

  constructor(scope: Construct, id: string, props: CrmErpStackProps) {
    super(scope, id, props);
    // Data of record outlives the stack except in dev, where stacks come and go.
    const keepData = props.stage === DEV_STAGE ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.tables = new Tables(this, 'Tables', {
      removalPolicy: keepData,
      deletionProtection: props.stage !== DEV_STAGE,
    });
    const visibility = props.queueVisibilityTimeout;
    const processorTimeout = visibility && visibility.toSeconds() < PROCESSOR_TIMEOUT.toSeconds()
      ? visibility : PROCESSOR_TIMEOUT;
    this.events = new EventQueue(this, 'Events', {
      consumerTimeout: processorTimeout,
      consumerBatchingWindow: EVENT_BATCHING_WINDOW,
      deadLettersRemovalPolicy: keepData,
      visibilityTimeout: props.queueVisibilityTimeout,
    });
    const metricsNamespace = `CrmErp/${props.stage}`;
    this.functions = new Functions(this, 'Functions', {
      metricsNamespace,
      manifestPath: props.manifestPath ?? path.join(__dirname, '..', '..', 'Cargo.toml'),
      architecture: props.architecture,
      logRemovalPolicy: keepData,
      usersTable: this.tables.users,
      erpProcessedUsersTable: this.tables.erpProcessedUsers,
      erpEmployeesTable: this.tables.erpEmployees,
      eventsQueue: this.events.queue,
      processorTimeout,
      outboxGrace: props.outboxGrace,
    });
    const { crmApi, erpProcessor, outboxRelay } = this.functions;

    // Every grant is here: one place to audit who may do what. Actions are exactly the
    // calls the functions make (no `*`), on the tables themselves (no index ARNs).
    // But one: outbox-relay's on-failure destination (lib/functions.ts) grants its role what
    // Lambda needs to send a failed run to the relay failures queue, with SqsDestination.
    for (const fn of [crmApi, erpProcessor, outboxRelay]) {
      fn.logGroup.grantWrite(fn);
    }
    // crm-api: store::users puts (a user with its pending event), gets and scans
    // (paginated) users; once its send succeeds, UpdateItem clears the pending mark.
    Grant.addToPrincipal({
      grantee: crmApi,
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
      resourceArns: [this.tables.users.tableArn],
    });
    this.events.queue.grant(crmApi, 'sqs:SendMessage');
    // crm-api reads the ERP side's view of a user for its sync status, and nothing more.
    Grant.addToPrincipal({
      grantee: crmApi,
      actions: ['dynamodb:GetItem'],
      resourceArns: [this.tables.erpEmployees.tableArn],
    });
    // outbox-relay: queries the pending-events index, sends in batches (SendMessageBatch
    // is authorized as sqs:SendMessage), clears each sent event's mark.
    Grant.addToPrincipal({
      grantee: outboxRelay,
      actions: ['dynamodb:Query'],
      resourceArns: [`${this.tables.users.tableArn}/index/${Tables.PENDING_EVENTS_INDEX}`],
    });
    Grant.addToPrincipal({
      grantee: outboxRelay,
      actions: ['dynamodb:UpdateItem'],
      resourceArns: [this.tables.users.tableArn],
    });
    this.events.queue.grant(outboxRelay, 'sqs:SendMessage');
    this.relaySchedule = new events.Rule(this, 'OutboxRelaySchedule', {
      description: 'Runs outbox-relay, which sends UserCreated events still pending',
      schedule: events.Schedule.rate(Duration.minutes(RELAY_SCHEDULE_MINUTES)),
      // A failed run is not retried: the next one, a minute later, takes the same events
      // (nor does Lambda retry it: see the relay's asyncInvoke in lib/functions.ts).
      targets: [new targets.LambdaFunction(outboxRelay, { retryAttempts: 0 })],
    });
    // erp-processor (functions/user-sync/src/store/processed.rs and employees.rs): claims an
    // event with a conditional PutItem and completes it with UpdateItem; on a repeat, GetItem
    // reads the first record and UpdateItem counts the duplicate; a deletion queries ByUserId
    // and erases each record's name and email with UpdateItem. On ErpEmployees, UpdateItem
    // leases the user and writes its view, DeleteItem ends a lease on a user without one.
    Grant.addToPrincipal({
      grantee: erpProcessor,
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      resourceArns: [this.tables.erpProcessedUsers.tableArn],
    });
    Grant.addToPrincipal({
      grantee: erpProcessor,
      actions: ['dynamodb:Query'],
      resourceArns: [`${this.tables.erpProcessedUsers.tableArn}/index/${Tables.BY_USER_ID_INDEX}`],
    });
    Grant.addToPrincipal({
      grantee: erpProcessor,
      actions: ['dynamodb:DeleteItem', 'dynamodb:UpdateItem'],
      resourceArns: [this.tables.erpEmployees.tableArn],
    });
    // Also grants the poller's receive, delete and visibility calls on the queue.
    erpProcessor.addEventSource(new SqsEventSource(this.events.queue, {
      // One batch is one concurrent wave of erp-processor's BATCH_CONCURRENCY workers.
      batchSize: BATCH_CONCURRENCY,
      maxBatchingWindow: EVENT_BATCHING_WINDOW,
      // A failed record is retried alone; the rest of its batch is deleted.
      reportBatchItemFailures: true,
      maxConcurrency: props.maxConcurrency,
    }));

    this.restApi = new RestApi(this, 'RestApi', {
      crmApi,
      erpProcessor,
      logRemovalPolicy: keepData,
    });

    this.alarms = new Alarms(this, 'Alarms', {
      deadLetters: this.events.deadLetters,
      relayFailures: this.functions.relayFailures,
      functions: { CrmApi: crmApi, ErpProcessor: erpProcessor, OutboxRelay: outboxRelay },
      oldestPendingEventAge: new cloudwatch.Metric({
        namespace: metricsNamespace,
        metricName: OLDEST_PENDING_EVENT_AGE,
        dimensionsMap: { Service: 'outbox-relay' },
        statistic: 'Maximum',
        period: Duration.minutes(1),
      }),
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
    output('EventsQueueUrl', this.events.queue.queueUrl, 'SQS queue of UserCreated events');
    output('DeadLetterQueueUrl', this.events.deadLetters.queueUrl,
      'SQS dead-letter queue of events that failed 5 deliveries');
  }
}
