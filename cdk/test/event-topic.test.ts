import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { EventTopic } from '../lib/event-topic';
import { configFromContext } from '../lib/stack';
import { arnOf, logicalId, ref, testApp, testStack } from './helpers';

describe('events topic', () => {
  const stack = testStack();
  const template = Template.fromStack(stack);
  const topic = stack.eventsTopic.topic;

  test('is encrypted with SNS\'s managed key and refuses requests not made over TLS', () => {
    const properties = template.toJSON().Resources[logicalId(topic)].Properties;
    expect(JSON.stringify(properties.KmsMasterKeyId)).toContain(':alias/aws/sns');
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [ref(topic)],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Deny',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        })]),
      },
    });
  });

  test('delivers every event raw to the ERP consumer\'s queue, with no filter; what it cannot '
    + 'deliver goes to its dead-letter queue', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      TopicArn: ref(topic),
      Endpoint: arnOf(stack.events.queue),
      RawMessageDelivery: true,
      FilterPolicy: Match.absent(),
      RedrivePolicy: { deadLetterTargetArn: arnOf(stack.eventsTopic.deliveryFailures) },
    });
  });

  test('the delivery failures queue lets this topic send to it, keeps 14 days and is alarmed', () => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [ref(stack.eventsTopic.deliveryFailures)],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Allow',
          Principal: { Service: 'sns.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Condition: { ArnEquals: { 'aws:SourceArn': ref(topic) } },
        })]),
      },
    });
    const resources = template.toJSON().Resources;
    expect(resources[logicalId(stack.eventsTopic.deliveryFailures)].Properties.MessageRetentionPeriod)
      .toBe(14 * 24 * 3600);
    expect(resources[logicalId(stack.alarms.deliveryFailuresVisible)].Properties).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 0,
    });
  });

  test('the queue\'s policy lets this topic send to it, and nothing else', () => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [ref(stack.events.queue)],
      PolicyDocument: {
        Statement: Match.arrayWith([{
          Effect: 'Allow',
          Principal: { Service: 'sns.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: arnOf(stack.events.queue),
          Condition: { ArnEquals: { 'aws:SourceArn': ref(topic) } },
        }]),
      },
    });
  });

  /** The roles whose policy allows sns:Publish on the events topic. */
  const publishersOf = (t: Template, s: typeof stack) => Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.PolicyDocument).includes('"sns:Publish"')
      && JSON.stringify(p.Properties.PolicyDocument).includes(logicalId(s.eventsTopic.topic)))
    .flatMap((p) => p.Properties.Roles.map((r: { Ref: string }) => r.Ref))
    .sort();
  const role = (fn: { role?: unknown }) => logicalId(fn.role as never);

  test('with stream delivery (the default) only outbox-relay may publish to it; crm-api and erp-processor '
    + 'may not', () => {
    expect(publishersOf(template, stack)).toEqual([role(stack.functions.outboxRelay)]);
  });

  test('with request delivery crm-api and outbox-relay may publish to it; erp-processor may not', () => {
    const app = testApp({ outboxDelivery: 'request' });
    const request = testStack(configFromContext(app), app);
    expect(publishersOf(Template.fromStack(request), request)).toEqual([
      role(request.functions.crmApi), role(request.functions.outboxRelay),
    ].sort());
  });

  test('a consumer subscribed with a filter receives only those event types', () => {
    const other = new Stack();
    const events = new EventTopic(other, 'Events', { deliveryFailuresRemovalPolicy: RemovalPolicy.DESTROY });
    events.subscribe(new sqs.Queue(other, 'Mirror'), ['UserDeleted']);
    Template.fromStack(other).hasResourceProperties('AWS::SNS::Subscription', {
      RawMessageDelivery: true,
      FilterPolicy: { eventType: ['UserDeleted'] },
    });
  });
});
