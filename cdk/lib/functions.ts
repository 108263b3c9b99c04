import { Duration, RemovalPolicy, Tags, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { skipCheckov } from './checkov';
import { secretArn } from './erp-credentials';
import { MAX_RECEIVE_COUNT, deadLetterQueue } from './event-queue';
import type { OutboxDelivery } from './stack';

/**
 * Records of one SQS batch that erp-processor handles at once (its `BATCH_CONCURRENCY`) by
 * default, and at most: it is the event source's batch size, so by default a batch is one
 * concurrent wave. Context `batchConcurrency` lowers it to spare the ERP.
 */
export const BATCH_CONCURRENCY = 10;

/** The ERP the processor reports it integrated with (the original simulated Oracle Fusion). */
export const ERP_SYSTEM_NAME = 'OracleFusion';

/** The CRM the mirror reports it keeps in step (the original's mock Salesforce integration). */
export const MIRROR_SYSTEM_NAME = 'Salesforce';

/**
 * erp-processor's timeout. A record is a few DynamoDB calls (the user's lease with the
 * event's look-up, then its record with the view) and one ERP call (the simulation's ERP_LATENCY_MS, 0 by
 * default, or the HTTP connector's attempts); a batch of 10 runs concurrently. 30 s leaves
 * room for SDK retries with backoff under throttling and for a cold start, while keeping
 * the queue's visibility timeout (6x this) near 3 minutes, so a crashed batch is retried
 * soon.
 */
export const PROCESSOR_TIMEOUT = Duration.seconds(30);

/** What erp-processor's lease on a user adds to its timeout (`CLAIM_TIMEOUT_SECONDS`). */
export const CLAIM_MARGIN_SECONDS = 5;

/**
 * crm-api's timeout. A request is a few DynamoDB calls and, with request delivery, one SNS
 * publish (tens of ms); 10 s covers SDK retries and a cold start and stays well under API
 * Gateway's 29 s integration timeout, so a stuck call fails in the function, not at the gateway.
 */
export const CRM_API_TIMEOUT = Duration.seconds(10);

/**
 * Both functions are I/O bound and use a few tens of MB. Lambda allots CPU in proportion
 * to memory: 256 MB (twice the minimum) buys a faster cold start (TLS and SDK set-up) for
 * a small cost per GB-second.
 */
const MEMORY_MB = 256;

/**
 * outbox-relay's timeout. A scheduled run sends at most OUTBOX_MAX_EVENTS_PER_RUN (1000)
 * events in batches of 10 and clears each: seconds even at the limit (a stream batch, at most
 * RELAY_STREAM_BATCH_SIZE records, is less). 50 s stays under the 1-minute schedule, so runs
 * do not overlap (and its reserved concurrency of 1 makes sure of it).
 */
export const RELAY_TIMEOUT = Duration.seconds(50);

/** How often outbox-relay sweeps the pending events (its safety net in either delivery). */
export const RELAY_SCHEDULE_MINUTES = 1;

/**
 * With stream delivery, the Users stream's records one relay invocation takes at most. A
 * batch that fails is retried RELAY_STREAM_RETRY_ATTEMPTS times while its records are
 * younger than RELAY_STREAM_MAX_RECORD_AGE; then the event source skips it, and the
 * scheduled sweep publishes its events, still pending in Users.
 */
export const RELAY_STREAM_BATCH_SIZE = 100;
export const RELAY_STREAM_RETRY_ATTEMPTS = 2;
export const RELAY_STREAM_MAX_RECORD_AGE = Duration.hours(1);

/**
 * How old a pending event must be before the scheduled sweep sends it: a new event is
 * published within milliseconds to a second or so (by crm-api itself with request delivery,
 * by the relay on its stream record with stream delivery), so 30 s means the sweep only picks
 * up what that delivery could not send (the topic was unreachable, crm-api died between its
 * write and its publish, a stream batch failed).
 */
export const OUTBOX_GRACE_SECONDS = 30;

/** How often reconciler compares the users with the ERP's view (context reconcileMinutes). */
export const RECONCILE_SCHEDULE_MINUTES = 60;

/**
 * A user changed more recently than this is not counted as drifted (reconciler's
 * `RECONCILE_SETTLE_SECONDS`): its event may still be in the outbox, the topic or the queue.
 * Longer than the PendingEventsStale and EventsQueueAgeHigh alarms' thresholds, which
 * report such delays themselves.
 */
export const RECONCILE_SETTLE = Duration.minutes(15);

/**
 * reconciler's timeout. A run reads every user (a parallel scan in 4 segments) and the
 * ERP's view of each (BatchGetItem per 100): about a minute per million users at
 * DynamoDB's on-demand read rates; 10 minutes leaves room, under the hourly schedule.
 */
export const RECONCILER_TIMEOUT = Duration.minutes(10);

/**
 * The Cargo packages of the Lambda binaries: each package's binary has its name, and
 * erp-processor's package holds crm-mirror's binary too (the consumer core's second downstream).
 */
const LAMBDA_PACKAGES = ['crm-api', 'erp-processor', 'outbox-relay', 'reconciler'];

/** Function logs are kept this long; API access logs use the same retention. */
export const LOG_RETENTION = logs.RetentionDays.ONE_MONTH;

/** Why the log groups (functions' and API access logs) skip checkov's CKV_AWS_158. */
export const LOGS_NOT_KMS = 'CloudWatch Logs encrypts every log group at rest; these logs hold ids, '
  + 'statuses and timings, never names or emails (DESIGN.md), so a customer managed key protects no PII.';

export interface FunctionsProps {
  /** The Cargo workspace manifest (the repository's `Cargo.toml`). */
  readonly manifestPath: string;
  readonly architecture: lambda.Architecture;
  /** The Cargo profile `cargo lambda build` uses (`release`, or the local stack's `local`). */
  readonly buildProfile: string;
  /** What happens to the functions' log groups when the stack is deleted. */
  readonly logRemovalPolicy: RemovalPolicy;
  readonly usersTable: dynamodb.ITable;
  readonly erpProcessedUsersTable: dynamodb.ITable;
  readonly erpEmployeesTable: dynamodb.ITable;
  /** The topic each event is published to once: by outbox-relay, and crm-api with request delivery. */
  readonly eventsTopic: sns.ITopic;
  /** The ERP consumer's queue (subscribed to the topic), where erp-processor defers records. */
  readonly eventsQueue: sqs.IQueue;
  /** The CRM mirror's audit of processed events, and its view of each user. */
  readonly mirrorProcessedEventsTable: dynamodb.ITable;
  readonly mirrorContactsTable: dynamodb.ITable;
  /** The CRM mirror's queue (subscribed to the topic), where crm-mirror defers records. */
  readonly mirrorQueue: sqs.IQueue;
  /** CloudWatch namespace of the functions' metrics (one per stage, lib/metrics.ts). */
  readonly metricsNamespace: string;
  /**
   * Records of a batch erp-processor handles at once (`BATCH_CONCURRENCY`): the ERP sees at
   * most maxConcurrency x this many calls from the queue in flight.
   */
  readonly batchConcurrency: number;
  /** The ERP erp-processor calls, and the secret of its token; unset: the simulated ERP. */
  readonly erp?: ErpEndpoint;
  /** The CRM crm-mirror calls, and the secret of its token; unset: the simulated CRM. */
  readonly mirror?: ErpEndpoint;
  /** erp-processor's timeout: PROCESSOR_TIMEOUT, or shorter for the local tests' queue. */
  readonly processorTimeout: Duration;
  /**
   * Who publishes a written event (crm-api's `OUTBOX_DELIVERY`): `stream`, the relay on the
   * Users table's stream (the stack adds that event source), or `request`, crm-api itself.
   */
  readonly outboxDelivery: OutboxDelivery;
  /** Replaces OUTBOX_GRACE_SECONDS (local tests only). */
  readonly outboxGrace?: Duration;
  /** Replaces RECONCILE_SETTLE (local tests only). */
  readonly reconcileSettle?: Duration;
}

/**
 * A real downstream system: context `erpEndpointUrl` (or `mirrorEndpointUrl`), with the bearer
 * token its consumer sends it.
 */
export interface ErpEndpoint {
  readonly endpointUrl: string;
  /** Only its ARN reaches the function, which reads the token at cold start. */
  readonly credentials: secretsmanager.Secret;
}

interface RustLambdaProps {
  readonly binaryName: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly environment: Record<string, string>;
  /** Unset: the function draws on the account's unreserved concurrency. */
  readonly reservedConcurrentExecutions?: number;
  /** How Lambda handles the function's asynchronous invocations (unset: Lambda's defaults). */
  readonly asyncInvoke?: Pick<lambda.EventInvokeConfigOptions, 'onFailure' | 'retryAttempts' | 'maxEventAge'>;
  /** Unset: Lambda stops a recursive loop it detects (its default). */
  readonly recursiveLoop?: lambda.RecursiveLoop;
  /**
   * What the role is granted on Resource "*" besides X-Ray's actions (for its cdk-nag
   * acknowledgement): actions that name no resource. Unset: nothing else.
   */
  readonly alsoOnAnyResource?: string;
}

/**
 * The Rust functions, one per binary of the Cargo workspace. Each has its own role (with no
 * permissions here: the stack grants them) and its own log group. Resource names reach the
 * functions only through the environment variables they read at cold start.
 */
export class Functions extends Construct {
  /** `crm-api`: the CRM REST API behind API Gateway. */
  readonly crmApi: lambda.Function;
  /** `erp-processor`: consumes the events queue, and serves `POST /events`. */
  readonly erpProcessor: lambda.Function;
  /** `crm-mirror`: consumes its own queue and keeps a Salesforce-style CRM in step. */
  readonly crmMirror: lambda.Function;
  /**
   * `outbox-relay`: publishes the events the CRM API stored: with stream delivery, as the
   * Users stream brings them; in either delivery, every minute, those still pending.
   */
  readonly outboxRelay: lambda.Function;
  /**
   * outbox-relay's failed scheduled runs (the invocation, with the error), its on-failure
   * destination; with stream delivery, also the stream batches it failed on (their shard and
   * sequence numbers), the stream event source's on-failure destination.
   */
  readonly relayFailures: sqs.Queue;
  /** `reconciler`: compares the users with the ERP's view, on a schedule, and reports drift. */
  readonly reconciler: lambda.Function;

  constructor(scope: Construct, id: string, private readonly props: FunctionsProps) {
    super(scope, id);

    const stream = props.outboxDelivery === 'stream';
    this.crmApi = this.rustLambda('CrmApi', {
      binaryName: 'crm-api',
      description: stream
        ? 'CRM API: creates, reads, changes and deletes users, with their events (the relay publishes them)'
        : 'CRM API: creates, reads, changes and deletes users, publishes their events',
      timeout: CRM_API_TIMEOUT,
      environment: {
        USERS_TABLE_NAME: props.usersTable.tableName,
        // Read by its configuration in either delivery; only `request` publishes to it.
        EVENTS_TOPIC_ARN: props.eventsTopic.topicArn,
        OUTBOX_DELIVERY: props.outboxDelivery,
        ERP_EMPLOYEES_TABLE_NAME: props.erpEmployeesTable.tableName,
        MIRROR_CONTACTS_TABLE_NAME: props.mirrorContactsTable.tableName,
        METRICS_NAMESPACE: props.metricsNamespace,
      },
    });
    skipCheckov(this.crmApi, {
      CKV_AWS_115: 'Bounded by the API stage\'s throttling (100 rps, burst 200); a reservation would '
        + 'also take that many from the account\'s unreserved concurrency.',
      CKV_AWS_116: 'Invoked only synchronously, by API Gateway, whose caller gets the error; a DLQ '
        + 'only receives failed asynchronous invocations.',
    });

    this.erpProcessor = this.consumerLambda('ErpProcessor', {
      binaryName: 'erp-processor',
      description: 'ERP processor: applies user events to the ERP in version order, idempotently',
      queue: props.eventsQueue,
      environment: {
        ERP_PROCESSED_TABLE_NAME: props.erpProcessedUsersTable.tableName,
        ERP_EMPLOYEES_TABLE_NAME: props.erpEmployeesTable.tableName,
        ERP_SYSTEM_NAME,
        // The secret's ARN, never its value: that would be readable by anyone who may read the
        // function's configuration.
        ...props.erp && {
          ERP_ENDPOINT_URL: props.erp.endpointUrl,
          ERP_CREDENTIALS_SECRET_ARN: secretArn(props.erp.credentials),
        },
      },
    }, 'for POST /events, the stage\'s throttling', 'and by API Gateway');
    this.crmMirror = this.consumerLambda('CrmMirror', {
      binaryName: 'crm-mirror',
      description: 'CRM mirror: applies user events to a Salesforce-style CRM in version order, idempotently',
      queue: props.mirrorQueue,
      environment: {
        MIRROR_PROCESSED_TABLE_NAME: props.mirrorProcessedEventsTable.tableName,
        MIRROR_CONTACTS_TABLE_NAME: props.mirrorContactsTable.tableName,
        MIRROR_SYSTEM_NAME,
        ...props.mirror && {
          MIRROR_ENDPOINT_URL: props.mirror.endpointUrl,
          MIRROR_CREDENTIALS_SECRET_ARN: secretArn(props.mirror.credentials),
        },
      },
    });

    // Deleted in every stage: it holds records of runs and stream batches, not data (their
    // events stay pending in the outbox).
    this.relayFailures = deadLetterQueue(this, 'OutboxRelayFailures', RemovalPolicy.DESTROY,
      'This queue is itself a dead-letter destination: the on-failure destination of '
      + 'outbox-relay\'s asynchronous invocations (an EventInvokeConfig, which cdk-nag does not '
      + 'look at) and, with stream delivery, of its Users stream event source. No function '
      + 'consumes it, so nothing could fail to process its messages.');

    this.outboxRelay = this.rustLambda('OutboxRelay', {
      binaryName: 'outbox-relay',
      description: stream
        ? 'Outbox relay: publishes the users\' events from the Users stream, and those still pending every minute'
        : 'Outbox relay: publishes the users\' events still pending in Users, every minute',
      timeout: RELAY_TIMEOUT,
      environment: {
        USERS_TABLE_NAME: props.usersTable.tableName,
        EVENTS_TOPIC_ARN: props.eventsTopic.topicArn,
        OUTBOX_GRACE_SECONDS: String(props.outboxGrace?.toSeconds() ?? OUTBOX_GRACE_SECONDS),
        METRICS_NAMESPACE: props.metricsNamespace,
      },
      // One run at a time: two runs would read the same pending events and send them twice.
      // A stream batch shares the one slot: it waits behind a running sweep (the event source
      // retries a throttled batch until its records reach RELAY_STREAM_MAX_RECORD_AGE).
      reservedConcurrentExecutions: 1,
      // EventBridge invokes the relay asynchronously. A failed run is not retried (like the
      // rule's retryAttempts: 0): the next run, a minute later, takes the same events. Nor is a
      // run that waited longer than that, say throttled behind a running one.
      asyncInvoke: {
        onFailure: new SqsDestination(this.relayFailures),
        retryAttempts: 0,
        maxEventAge: Duration.minutes(RELAY_SCHEDULE_MINUTES),
      },
      alsoOnAnyResource: stream
        ? 'dynamodb:ListStreams, added by its Users stream event source (ListStreams supports no '
          + 'resource-level permissions; the stream\'s reads name the stream)'
        : undefined,
    });
    skipCheckov(this.outboxRelay, {
      CKV_AWS_116: 'Failed asynchronous invocations go to the OutboxRelayFailures queue, its on-failure '
        + 'destination (EventInvokeConfig), which keeps the error too; the check only reads DeadLetterConfig.',
    });
    this.reconciler = this.reconcilerLambda();
  }

  /**
   * A consumer of the events topic (erp-processor's core, functions/erp-processor/src/downstream.rs):
   * its own variables, and the ones every consumer reads. `alsoThrottledBy` and `alsoInvokedBy`
   * name a second trigger, for the checkov skips.
   */
  private consumerLambda(
    id: string,
    p: { binaryName: string; description: string; queue: sqs.IQueue; environment: Record<string, string> },
    alsoThrottledBy?: string,
    alsoInvokedBy?: string,
  ): lambda.Function {
    const fn = this.rustLambda(id, {
      binaryName: p.binaryName,
      description: p.description,
      timeout: this.props.processorTimeout,
      // A record whose user is busy goes back to the queue that triggers this function
      // (erp-processor/src/deferral.rs): a loop by design, bounded by the user's lease, which
      // ends with its holder's call or expires with CLAIM_TIMEOUT_SECONDS. Lambda's loop
      // detection would stop it after about 16 rounds and drop the record.
      recursiveLoop: lambda.RecursiveLoop.ALLOW,
      environment: {
        ...p.environment,
        BATCH_CONCURRENCY: String(this.props.batchConcurrency),
        // A delivery's lease on a user outlives the invocation that took it (its timeout,
        // plus a margin for clocks), so only a dead invocation's lease is ever taken over.
        CLAIM_TIMEOUT_SECONDS: String(this.props.processorTimeout.toSeconds() + CLAIM_MARGIN_SECONDS),
        // The queue's redrive policy: a record failing on that receive goes to the dead-letter
        // queue, and the consumer marks its user's sync status failed.
        MAX_RECEIVE_COUNT: String(MAX_RECEIVE_COUNT),
        // Where a record whose user another delivery holds goes back to, delayed, instead of
        // spending a receive (erp-processor/src/deferral.rs).
        EVENTS_QUEUE_URL: p.queue.queueUrl,
        METRICS_NAMESPACE: this.props.metricsNamespace,
      },
    });
    skipCheckov(fn, {
      CKV_AWS_115: 'Capped by the event source\'s MaximumConcurrency (context maxConcurrency)'
        + (alsoThrottledBy ? ` and, ${alsoThrottledBy}` : '')
        + '; a reservation would take from the account\'s pool.',
      CKV_AWS_116: 'Invoked only synchronously: by the SQS event source (failed records reach its '
        + 'dead-letter queue through the queue\'s redrive policy)' + (alsoInvokedBy ? ` ${alsoInvokedBy}` : '') + '.',
    });
    return fn;
  }

  private reconcilerLambda(): lambda.Function {
    const fn = this.rustLambda('Reconciler', {
      binaryName: 'reconciler',
      description: 'Reconciler: compares the users with each consumer\'s view and publishes the drift it finds',
      timeout: RECONCILER_TIMEOUT,
      environment: {
        USERS_TABLE_NAME: this.props.usersTable.tableName,
        ERP_EMPLOYEES_TABLE_NAME: this.props.erpEmployeesTable.tableName,
        MIRROR_CONTACTS_TABLE_NAME: this.props.mirrorContactsTable.tableName,
        RECONCILE_SETTLE_SECONDS: String((this.props.reconcileSettle ?? RECONCILE_SETTLE).toSeconds()),
        METRICS_NAMESPACE: this.props.metricsNamespace,
      },
      // It only reads: a failed run is not retried, the next scheduled one compares again
      // (its Errors alarm tells of the failure).
      asyncInvoke: { retryAttempts: 0 },
    });
    skipCheckov(fn, {
      CKV_AWS_115: 'Runs on a schedule, one run at a time in practice (minutes under an hourly rate); a '
        + 'reservation would take from the account\'s unreserved concurrency.',
      CKV_AWS_116: 'A failed run is not retried and loses nothing: it only reads, and the next scheduled '
        + 'run compares again; its Errors alarm reports the failure.',
    });
    return fn;
  }

  private rustLambda(id: string, p: RustLambdaProps): lambda.Function {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: LOG_RETENTION,
      removalPolicy: this.props.logRemovalPolicy,
    });
    skipCheckov(logGroup, { CKV_AWS_158: LOGS_NOT_KMS });
    // An own role instead of the default one: the default attaches the AWS managed
    // AWSLambdaBasicExecutionRole (logs:CreateLogGroup on every log group); the stack grants
    // this role writes to its own log group only.
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${p.binaryName}`,
    });
    const onAnyResource = [
      'xray:PutTraceSegments and xray:PutTelemetryRecords, added by active tracing (X-Ray defines '
        + 'no resource types for them)',
      ...p.alsoOnAnyResource ? [p.alsoOnAnyResource] : [],
    ];
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: `Only ${onAnyResource.join(', and ')}, have Resource "*". Every other statement `
        + 'names its table, stream, queue or log group (asserted in test/stack.test.ts).',
    });
    const fn = new RustFunction(this, id, {
      manifestPath: this.props.manifestPath,
      binaryName: p.binaryName,
      bundling: {
        // Every build selects all Lambda packages, so Cargo resolves features once for the
        // Lambda code (not per package, nor with the workspace's dev tools): the builds
        // share every compiled dependency and each only compiles and links its own crate.
        cargoLambdaFlags: LAMBDA_PACKAGES.flatMap(pkg => ['--package', pkg]),
        profile: this.props.buildProfile,
      },
      runtime: 'provided.al2023',
      architecture: this.props.architecture,
      description: p.description,
      memorySize: MEMORY_MB,
      timeout: p.timeout,
      environment: p.environment,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      tracing: lambda.Tracing.ACTIVE,
      reservedConcurrentExecutions: p.reservedConcurrentExecutions,
      recursiveLoop: p.recursiveLoop,
      ...p.asyncInvoke,
    });
    skipCheckov(fn, {
      CKV_AWS_117: 'Calls only public endpoints over TLS: AWS ones with SigV4 (DynamoDB, SQS, Secrets '
        + 'Manager) and an https ERP; nothing it reaches is in a VPC, which would add NAT to pay for.',
      CKV_AWS_173: 'Its variables are resource names or URLs and plain settings, no secret; Lambda '
        + 'encrypts them at rest with its AWS managed key anyway.',
    });
    // Names the binary: for cost allocation, and for operators' tools (the e2e suite finds
    // the deployed crm-api by it), since the function names are generated.
    Tags.of(fn).add('binary', p.binaryName);
    return fn;
  }
}
