import { Template } from 'aws-cdk-lib/assertions';
import { Alarms } from '../lib/alarms';
import { arnOf, logicalId, ref, testStack } from './helpers';

describe('alarms', () => {
  const stack = testStack();
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  const { alarms } = stack;
  const alarm = (a: typeof alarms.deadLettersVisible) => resources[logicalId(a)].Properties;
  const topic = ref(alarms.topic);
  const firesOnAnything = {
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    EvaluationPeriods: 1,
    Period: 300,
    TreatMissingData: 'notBreaching',
  };

  test('fires when any message is visible in the dead-letter queue', () => {
    expect(alarm(alarms.deadLettersVisible)).toMatchObject({
      ...firesOnAnything,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Statistic: 'Maximum',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack.events.deadLetters), 'QueueName'] } }],
    });
  });

  test.each([
    ['CrmApi', () => stack.functions.crmApi],
    ['ErpProcessor', () => stack.functions.erpProcessor],
  ])('fires on any error of %s', (name, fn) => {
    expect(alarm(alarms.functionErrors[name])).toMatchObject({
      ...firesOnAnything,
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Dimensions: [{ Name: 'FunctionName', Value: ref(fn()) }],
    });
  });

  test('fires on any 5XX answered by the API stage', () => {
    expect(alarm(alarms.apiServerErrors)).toMatchObject({
      ...firesOnAnything,
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Statistic: 'Sum',
      Dimensions: expect.arrayContaining([
        { Name: 'Stage', Value: ref(stack.restApi.api.deploymentStage) },
      ]),
    });
  });

  test('fires when an event has waited over 10 minutes in the events queue', () => {
    expect(Alarms.QUEUE_AGE_HIGH_SECONDS).toBe(600);
    const props = alarm(alarms.eventsQueueAgeHigh);
    expect(props).toMatchObject({
      ...firesOnAnything,
      Threshold: 600,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Statistic: 'Maximum',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack.events.queue), 'QueueName'] } }],
    });
    expect(props.AlarmDescription).toMatch(/not keeping up.*dashboard CrmErp-dev/);
  });

  test('fires when over 10% of the ERP calls failed in 5 minutes (the average of 0-or-1 datums)', () => {
    expect(Alarms.ERP_ERROR_RATE_HIGH).toBe(0.1);
    const props = alarm(alarms.erpErrorRateHigh);
    expect(props).toMatchObject({
      ...firesOnAnything,
      Threshold: 0.1,
      Namespace: 'CrmErp/dev',
      MetricName: 'ErpCallFailed',
      Statistic: 'Average',
      Dimensions: [{ Name: 'Service', Value: 'erp-processor' }],
    });
    expect(props.AlarmDescription).toMatch(/More than 10% of .*ERP calls failed.*"ERP call failed"/);
  });

  test('the CRM mirror has alarms of its own: its dead letters, its queue\'s age, its call errors', () => {
    expect(alarm(alarms.mirrorDeadLettersVisible)).toMatchObject({
      ...firesOnAnything,
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack.mirrorEvents.deadLetters), 'QueueName'] } }],
    });
    expect(alarm(alarms.mirrorQueueAgeHigh)).toMatchObject({
      Threshold: 600,
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack.mirrorEvents.queue), 'QueueName'] } }],
    });
    expect(alarm(alarms.mirrorErrorRateHigh)).toMatchObject({
      Threshold: 0.1,
      MetricName: 'ErpCallFailed',
      Statistic: 'Average',
      Dimensions: [{ Name: 'Service', Value: 'crm-mirror' }],
    });
    expect(alarm(alarms.functionErrors.CrmMirror).Dimensions)
      .toEqual([{ Name: 'FunctionName', Value: { Ref: logicalId(stack.functions.crmMirror) } }]);
  });

  test('no alarm uses metric math (the local emulator rejects Metrics): each names one metric', () => {
    const all = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(all).toHaveLength(16);
    for (const a of all) {
      expect(a.Properties.Metrics).toBeUndefined();
      expect(a.Properties).toEqual(expect.objectContaining({
        Namespace: expect.any(String),
        MetricName: expect.any(String),
        Statistic: expect.any(String),
      }));
    }
  });

  test('every alarm notifies the topic when it fires and when it recovers', () => {
    const all = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    for (const a of all) {
      expect(a.Properties.AlarmActions).toEqual([topic]);
      expect(a.Properties.OKActions).toEqual([topic]);
    }
  });

  test('the topic is encrypted with a rotated key CloudWatch may use', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: arnOf(alarms.topicKey) });
    const key = resources[logicalId(alarms.topicKey)].Properties;
    expect(key.EnableKeyRotation).toBe(true);
    expect(key.KeyPolicy.Statement).toContainEqual({
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Resource: '*',
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
  });

  test('the topic refuses publishing without TLS and lets this account\'s CloudWatch publish', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topic],
      PolicyDocument: {
        Statement: [
          {
            Sid: 'AllowPublishThroughSSLOnly',
            Effect: 'Deny',
            Principal: '*',
            Action: 'sns:Publish',
            Resource: topic,
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
          {
            Sid: '1',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: topic,
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      },
    });
  });

  test('without alarmEmail nobody is subscribed to the alarm topic', () => {
    expect(template.findResources('AWS::SNS::Subscription', {
      Properties: { TopicArn: ref(alarms.topic) },
    })).toEqual({});
  });

  test('context alarmEmail subscribes that address by email', () => {
    const withEmail = testStack({ alarmEmail: 'ops@example.com' });
    Template.fromStack(withEmail).hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: ref(withEmail.alarms.topic),
    });
  });
});
