import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { OUTBOX_GRACE_SECONDS, RELAY_SCHEDULE_MINUTES, RELAY_TIMEOUT } from '../lib/functions';
import { CrmErpStack, OUTBOX_DELIVERIES, configFromContext } from '../lib/stack';
import { arnOf, logicalId, ref, testApp, testStack } from './helpers';
import { statementsOf } from './stack.test';

describe('the outbox and its relay', () => {
  const stack = testStack();
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  const { outboxRelay } = stack.functions;
  const relay = resources[logicalId(outboxRelay)].Properties;

  test('Users has the sparse PendingEvents index, oldest first, with what the relay sends', () => {
    const users = resources[logicalId(stack.tables.users)].Properties;
    expect(users.GlobalSecondaryIndexes).toEqual([{
      IndexName: 'PendingEvents',
      KeySchema: [
        { AttributeName: 'Outbox', KeyType: 'HASH' },
        { AttributeName: 'OutboxSince', KeyType: 'RANGE' },
      ],
      Projection: {
        ProjectionType: 'INCLUDE',
        NonKeyAttributes: ['OutboxEventId', 'OutboxEvent', 'OutboxCorrelationId'],
      },
    }]);
    expect(users.AttributeDefinitions).toEqual(expect.arrayContaining([
      { AttributeName: 'Outbox', AttributeType: 'S' },
      { AttributeName: 'OutboxSince', AttributeType: 'N' },
    ]));
  });

  test('outbox-relay is a Rust binary with the Users table, the events topic, its grace period and namespace', () => {
    expect(relay.Runtime).toBe('provided.al2023');
    expect(relay.Architectures).toEqual(['arm64']);
    expect(relay.Timeout).toBe(RELAY_TIMEOUT.toSeconds());
    expect(relay.Timeout).toBeLessThan(60);
    expect(relay.TracingConfig).toEqual({ Mode: 'Active' });
    expect(relay.LoggingConfig).toMatchObject({ LogFormat: 'JSON', LogGroup: ref(outboxRelay.logGroup) });
    expect(relay.Environment.Variables).toEqual({
      USERS_TABLE_NAME: ref(stack.tables.users),
      EVENTS_TOPIC_ARN: ref(stack.eventsTopic.topic),
      OUTBOX_GRACE_SECONDS: String(OUTBOX_GRACE_SECONDS),
      METRICS_NAMESPACE: 'CrmErp/dev',
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('every function carries the binary tag scripts/dev finds it by', () => {
    for (const [fn, binary] of [
      [stack.functions.crmApi, 'crm-api'],
      [stack.functions.erpProcessor, 'erp-processor'],
      [outboxRelay, 'outbox-relay'],
      [stack.functions.reconciler, 'reconciler'],
    ] as const) {
      expect(resources[logicalId(fn)].Properties.Tags).toEqual(
        expect.arrayContaining([{ Key: 'binary', Value: binary }]));
    }
  });

  test('an EventBridge rule runs outbox-relay every minute, without retries', () => {
    expect(resources[logicalId(stack.relaySchedule)].Properties).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [{ Arn: arnOf(outboxRelay), RetryPolicy: { MaximumRetryAttempts: 0 } }],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: arnOf(outboxRelay),
      Principal: 'events.amazonaws.com',
      SourceArn: arnOf(stack.relaySchedule),
    });
  });

  test('runs one at a time: reserved concurrency 1', () => {
    expect(relay.ReservedConcurrentExecutions).toBe(1);
  });

  test('a failed or stale asynchronous run is not retried and goes to the failures queue', () => {
    expect(Object.values(template.findResources('AWS::Lambda::EventInvokeConfig'))
      .map(c => c.Properties)
      .filter(c => c.FunctionName.Ref === logicalId(outboxRelay))).toEqual([{
      FunctionName: ref(outboxRelay),
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 0,
      // The Lambda minimum, and the schedule's period: by then the next run has started.
      MaximumEventAgeInSeconds: 60,
      DestinationConfig: { OnFailure: { Destination: arnOf(stack.functions.relayFailures) } },
    }]);
    expect(RELAY_SCHEDULE_MINUTES).toBe(1);
  });

  // Its TLS-only policy is asserted with the other queues' (event-queue.test.ts).
  test('the failures queue is encrypted, keeps messages 14 days and goes with the stack', () => {
    const failures = stack.functions.relayFailures;
    expect(resources[logicalId(failures)]).toMatchObject({
      Properties: { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 },
      DeletionPolicy: 'Delete',
    });
    expect(resources[logicalId(failures)].Properties.RedrivePolicy).toBeUndefined();
  });

  test('alarms when a run failed (a message in the failures queue)', () => {
    expect(resources[logicalId(stack.alarms.relayFailuresVisible)].Properties).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Statistic: 'Maximum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack.functions.relayFailures), 'QueueName'] } }],
      AlarmActions: [ref(stack.alarms.topic)],
    });
  });

  test('alarms when an event has been pending for over 5 minutes, and on relay errors', () => {
    const stale = resources[logicalId(stack.alarms.pendingEventsStale)].Properties;
    expect(stale).toMatchObject({
      Namespace: 'CrmErp/dev',
      MetricName: 'OldestPendingEventAgeSeconds',
      Dimensions: [{ Name: 'Service', Value: 'outbox-relay' }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 300,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [ref(stack.alarms.topic)],
    });
    expect(resources[logicalId(stack.alarms.functionErrors.OutboxRelay)].Properties).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: ref(outboxRelay) }],
    });
  });
});

/** The Users table's stream ARN, as a template names it. */
const streamOf = (stack: CrmErpStack) => ({ 'Fn::GetAtt': [logicalId(stack.tables.users), 'StreamArn'] });

/** The actions that read a DynamoDB stream. */
const STREAM_ACTIONS = /dynamodb:(GetRecords|GetShardIterator|DescribeStream|ListStreams)/;

/** Every action a function's role holds, with the resources each statement names. */
const grantsOf = (template: Template, stack: CrmErpStack, fn: 'crmApi' | 'outboxRelay' | 'erpProcessor') =>
  JSON.stringify(statementsOf(template, stack.functions[fn]));

/** The event source mappings reading the Users table's stream. */
const streamMappings = (template: Template, stack: CrmErpStack) =>
  Object.values(template.findResources('AWS::Lambda::EventSourceMapping'))
    .map(m => m.Properties)
    .filter(m => JSON.stringify(m.EventSourceArn).includes('StreamArn')
      || JSON.stringify(m.EventSourceArn).includes(logicalId(stack.tables.users)));

/** The IAM5[Resource::*] acknowledgement's reason on the relay's role. */
const relayWildcardReason = (stack: CrmErpStack): string => {
  const role = stack.functions.outboxRelay.role!;
  const entry = role.node.metadata.find(m => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY);
  return Object.entries(entry!.data as Record<string, string>)
    .find(([id]) => id.endsWith('AwsSolutions-IAM5[Resource::*]'))![1];
};

describe('outbox delivery: context outboxDelivery', () => {
  test('takes stream (the default) or request; anything else fails the synth with a clear message', () => {
    expect(OUTBOX_DELIVERIES).toEqual(['stream', 'request']);
    expect(configFromContext(testApp()).outboxDelivery).toBe('stream');
    expect(configFromContext(testApp({ outboxDelivery: 'stream' })).outboxDelivery).toBe('stream');
    expect(configFromContext(testApp({ outboxDelivery: 'request' })).outboxDelivery).toBe('request');
    for (const bad of ['later', 'Stream', 'requests', '']) {
      expect(() => configFromContext(testApp({ outboxDelivery: bad })))
        .toThrow(`context outboxDelivery=${bad}: use stream or request`);
    }
  });
});

describe('stream delivery (the default): the Users stream triggers the relay', () => {
  const stack = testStack();
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  const { crmApi, outboxRelay, relayFailures } = stack.functions;
  const api = resources[logicalId(crmApi)].Properties;

  test('Users has a stream of new and old images', () => {
    expect(resources[logicalId(stack.tables.users)].Properties.StreamSpecification)
      .toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    // The other tables have none.
    for (const table of [stack.tables.erpProcessedUsers, stack.tables.erpEmployees,
      stack.tables.mirrorProcessedEvents, stack.tables.mirrorContacts]) {
      expect(resources[logicalId(table)].Properties.StreamSpecification).toBeUndefined();
    }
  });

  test('one event source mapping feeds the stream to outbox-relay, from the latest record, 100 at a time, '
    + 'twice retried, for at most an hour, failed batches to the relay failures queue, only pending marks', () => {
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'))
      .map(m => m.Properties);
    // Both consumers' queues, and the stream.
    expect(mappings).toHaveLength(3);
    expect(streamMappings(template, stack)).toEqual([{
      EventSourceArn: streamOf(stack),
      FunctionName: ref(outboxRelay),
      StartingPosition: 'LATEST',
      BatchSize: 100,
      MaximumRetryAttempts: 2,
      MaximumRecordAgeInSeconds: 3600,
      DestinationConfig: { OnFailure: { Destination: arnOf(relayFailures) } },
      // Only the writes that leave an event pending: not the clearings that empty the outbox.
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ dynamodb: { NewImage: { Outbox: { S: ['pending'] } } } }) }] },
      Tags: [{ Key: 'binary', Value: 'outbox-relay' }],
    }]);
    expect(mappings.filter(m => JSON.stringify(m.FunctionName) === JSON.stringify(ref(outboxRelay))))
      .toHaveLength(1);
  });

  test('the relay\'s role reads the stream (ListStreams names no resource) and may send failed batches to '
    + 'its failures queue', () => {
    const statements = statementsOf(template, outboxRelay);
    expect(statements).toContainEqual({
      Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
      Effect: 'Allow',
      Resource: streamOf(stack),
    });
    expect(statements).toContainEqual({
      Action: ['dynamodb:ListStreams', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
      Effect: 'Allow',
      Resource: '*',
    });
    expect(statements).toContainEqual({
      Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
      Effect: 'Allow',
      Resource: arnOf(relayFailures),
    });
    // Still the sweep's grants, and the publish.
    expect(statements).toContainEqual({
      Action: 'sns:Publish', Effect: 'Allow', Resource: ref(stack.eventsTopic.topic),
    });
  });

  test('only the relay reads the stream', () => {
    for (const fn of ['crmApi', 'erpProcessor'] as const) {
      expect(grantsOf(template, stack, fn)).not.toMatch(STREAM_ACTIONS);
      expect(grantsOf(template, stack, fn)).not.toContain('StreamArn');
    }
  });

  test('crm-api gets OUTBOX_DELIVERY=stream and keeps EVENTS_TOPIC_ARN', () => {
    expect(api.Environment.Variables).toMatchObject({
      OUTBOX_DELIVERY: 'stream',
      EVENTS_TOPIC_ARN: ref(stack.eventsTopic.topic),
    });
  });

  test('crm-api may not publish: no sns action, no KMS grant, nothing on the topic', () => {
    const grants = grantsOf(template, stack, 'crmApi');
    expect(grants).not.toContain('sns:');
    expect(grants).not.toContain('kms:');
    expect(grants).not.toContain(logicalId(stack.eventsTopic.topic));
    // It still writes the user with its event, and reads.
    expect(statementsOf(template, crmApi)).toContainEqual({
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
      Effect: 'Allow',
      Resource: arnOf(stack.tables.users),
    });
  });

  test('the sweep stays: the schedule still runs the relay every minute, with its grace period', () => {
    expect(resources[logicalId(stack.relaySchedule)].Properties.ScheduleExpression).toBe('rate(1 minute)');
    expect(resources[logicalId(outboxRelay)].Properties.Environment.Variables.OUTBOX_GRACE_SECONDS)
      .toBe(String(OUTBOX_GRACE_SECONDS));
  });

  test('the descriptions say who publishes; the relay\'s wildcard acknowledgement names ListStreams', () => {
    expect(resources[logicalId(outboxRelay)].Properties.Description).toBe(
      'Outbox relay: publishes the users\' events from the Users stream, and those still pending every minute');
    expect(api.Description).toBe(
      'CRM API: creates, reads, changes and deletes users, with their events (the relay publishes them)');
    expect(relayWildcardReason(stack)).toContain('dynamodb:ListStreams');
  });
});

describe('request delivery (context outboxDelivery=request): crm-api publishes, no stream', () => {
  const app = testApp({ outboxDelivery: 'request' });
  const stack = testStack(configFromContext(app), app);
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  const { crmApi, outboxRelay } = stack.functions;

  test('Users has no stream, and no event source mapping reads one', () => {
    expect(resources[logicalId(stack.tables.users)].Properties.StreamSpecification).toBeUndefined();
    expect(streamMappings(template, stack)).toEqual([]);
    // The consumers' two queues only.
    expect(Object.values(template.findResources('AWS::Lambda::EventSourceMapping'))
      .map(m => m.Properties.EventSourceArn)).toEqual([arnOf(stack.events.queue), arnOf(stack.mirrorEvents.queue)]);
  });

  test('crm-api gets OUTBOX_DELIVERY=request and may publish to the topic', () => {
    expect(resources[logicalId(crmApi)].Properties.Environment.Variables).toMatchObject({
      OUTBOX_DELIVERY: 'request',
      EVENTS_TOPIC_ARN: ref(stack.eventsTopic.topic),
    });
    expect(statementsOf(template, crmApi)).toContainEqual({
      Action: 'sns:Publish', Effect: 'Allow', Resource: ref(stack.eventsTopic.topic),
    });
    expect(resources[logicalId(crmApi)].Properties.Description)
      .toBe('CRM API: creates, reads, changes and deletes users, publishes their events');
  });

  test('the relay neither reads a stream nor says it does', () => {
    const grants = grantsOf(template, stack, 'outboxRelay');
    expect(grants).not.toMatch(STREAM_ACTIONS);
    expect(resources[logicalId(outboxRelay)].Properties.Description)
      .toBe('Outbox relay: publishes the users\' events still pending in Users, every minute');
    expect(relayWildcardReason(stack)).not.toContain('ListStreams');
  });

  test('differs from stream delivery only in the stream, its mapping, the grants, crm-api\'s variable and '
    + 'the descriptions', () => {
    const streamStack = testStack();
    const stream = Template.fromStack(streamStack).toJSON().Resources;
    const policyOf = (fn: typeof crmApi) => logicalId(fn.role!.node.findChild('DefaultPolicy'));
    const [mapping] = Object.keys(stream).filter(id => stream[id].Type === 'AWS::Lambda::EventSourceMapping'
      && JSON.stringify(stream[id].Properties.EventSourceArn).includes('StreamArn'));
    const differing = [...new Set([...Object.keys(stream), ...Object.keys(resources)])]
      .filter(id => JSON.stringify(stream[id]) !== JSON.stringify(resources[id]))
      .sort();
    expect(differing).toEqual([
      logicalId(stack.tables.users), mapping,
      logicalId(crmApi), policyOf(crmApi),
      logicalId(outboxRelay), policyOf(outboxRelay),
      // Its description names the stream batches the failures queue receives.
      logicalId(stack.alarms.relayFailuresVisible),
    ].sort());
    expect(resources[mapping]).toBeUndefined();
  });
});
