import { Match, Template } from 'aws-cdk-lib/assertions';
import { MAX_RECEIVE_COUNT } from '../lib/event-queue';
import { arnOf, logicalId, ref, templateOf, testStack } from './helpers';

describe('event queue', () => {
  const stack = testStack();
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  const queue = resources[logicalId(stack.events.queue)];
  const deadLetters = resources[logicalId(stack.events.deadLetters)];

  test('redrives a message to the dead-letter queue after 5 receives', () => {
    expect(MAX_RECEIVE_COUNT).toBe(5);
    expect(queue.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: arnOf(stack.events.deadLetters),
      maxReceiveCount: 5,
    });
  });

  test('keeps dead letters for 14 days', () => {
    expect(deadLetters.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
  });

  test('encrypts both queues with SQS managed keys', () => {
    expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    expect(deadLetters.Properties.SqsManagedSseEnabled).toBe(true);
  });

  test.each([
    ['queue', () => stack.events.queue],
    ['dead-letter queue', () => stack.events.deadLetters],
    ['relay failures queue', () => stack.functions.relayFailures],
  ])(
    'the %s refuses any request not made over TLS', (_name, q) => {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [ref(q())],
        PolicyDocument: {
          Statement: Match.arrayWith([{
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: arnOf(q()),
          }]),
        },
      });
    });

  test('visibility timeout is at least 6x the processor timeout plus the batching window', () => {
    const processor = resources[logicalId(stack.functions.erpProcessor)].Properties;
    const [mapping] = Object.values(template.findResources('AWS::Lambda::EventSourceMapping', {
      Properties: { EventSourceArn: arnOf(stack.events.queue) },
    }));
    const window = mapping.Properties.MaximumBatchingWindowInSeconds;
    expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * processor.Timeout + window);
    expect(queue.Properties.VisibilityTimeout).toBe(6 * 30 + 1);
  });

  test('queue names are generated, never hard-coded', () => {
    expect(queue.Properties.QueueName).toBeUndefined();
    expect(deadLetters.Properties.QueueName).toBeUndefined();
  });

  test('the dev stage deletes the dead-letter queue with the stack', () => {
    expect(deadLetters.DeletionPolicy).toBe('Delete');
  });

  test('other stages retain the dead-letter queue (failed events) and delete the events queue', () => {
    const prod = testStack({ stage: 'prod' });
    const res = Template.fromStack(prod).toJSON().Resources;
    expect(res[logicalId(prod.events.deadLetters)].DeletionPolicy).toBe('Retain');
    expect(res[logicalId(prod.events.queue)].DeletionPolicy).toBe('Delete');
  });

  test('does not depend on the stage for its safety settings', () => {
    const prod = templateOf({ stage: 'prod' });
    prod.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  });
});
