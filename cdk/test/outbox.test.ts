import { Template } from 'aws-cdk-lib/assertions';
import { OUTBOX_GRACE_SECONDS, RELAY_SCHEDULE_MINUTES, RELAY_TIMEOUT } from '../lib/functions';
import { arnOf, logicalId, ref, testStack } from './helpers';

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
