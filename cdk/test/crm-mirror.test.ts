import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { BATCH_CONCURRENCY, MIRROR_SYSTEM_NAME } from '../lib/functions';
import { configFromContext } from '../lib/stack';
import { arnOf, logicalId, ref, testApp, testStack } from './helpers';
import { statementsOf } from './stack.test';

const CRM_URL = 'https://crm.example.com/services/data/v60.0';

/** The secret's ARN as its `Id` attribute: `Ref` would be its name in the local emulator. */
const idOf = (secret: secretsmanager.Secret) => ({ 'Fn::GetAtt': [logicalId(secret), 'Id'] });

describe('the CRM mirror, the second consumer', () => {
  const stack = testStack();
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  const { crmMirror, erpProcessor, crmApi } = stack.functions;
  const mirror = resources[logicalId(crmMirror)].Properties;

  test('runs the crm-mirror binary with its own tables, its own queue and the consumers\' settings', () => {
    expect(MIRROR_SYSTEM_NAME).toBe('Salesforce');
    expect(mirror.Environment.Variables).toEqual({
      MIRROR_PROCESSED_TABLE_NAME: ref(stack.tables.mirrorProcessedEvents),
      MIRROR_CONTACTS_TABLE_NAME: ref(stack.tables.mirrorContacts),
      MIRROR_SYSTEM_NAME: 'Salesforce',
      BATCH_CONCURRENCY: String(BATCH_CONCURRENCY),
      CLAIM_TIMEOUT_SECONDS: '35',
      MAX_RECEIVE_COUNT: '5',
      EVENTS_QUEUE_URL: ref(stack.mirrorEvents.queue),
      METRICS_NAMESPACE: 'CrmErp/dev',
    });
    expect(mirror.RecursiveLoop).toBe('Allow');
  });

  test('its tables have the ERP side\'s keys and index', () => {
    const table = (t: typeof stack.tables.users) => resources[logicalId(t)].Properties;
    expect(table(stack.tables.mirrorProcessedEvents).KeySchema).toEqual(table(stack.tables.erpProcessedUsers).KeySchema);
    expect(table(stack.tables.mirrorProcessedEvents).GlobalSecondaryIndexes)
      .toEqual(table(stack.tables.erpProcessedUsers).GlobalSecondaryIndexes);
    expect(table(stack.tables.mirrorContacts).KeySchema).toEqual(table(stack.tables.erpEmployees).KeySchema);
  });

  test('the topic delivers every event raw to its queue, which feeds it in batches with partial failures', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: ref(stack.eventsTopic.topic),
      Endpoint: arnOf(stack.mirrorEvents.queue),
      RawMessageDelivery: true,
      FilterPolicy: Match.absent(),
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arnOf(stack.mirrorEvents.queue),
      FunctionName: ref(crmMirror),
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
    expect(resources[logicalId(stack.mirrorEvents.queue)].Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: arnOf(stack.mirrorEvents.deadLetters),
      maxReceiveCount: 5,
    });
  });

  test('its role reaches its own tables and queue and none of the ERP\'s, nor the ERP\'s role its', () => {
    const mirrorGrants = JSON.stringify(statementsOf(template, crmMirror));
    const erpGrants = JSON.stringify(statementsOf(template, erpProcessor));
    for (const own of [stack.tables.mirrorProcessedEvents, stack.tables.mirrorContacts, stack.mirrorEvents.queue]) {
      expect(mirrorGrants).toContain(logicalId(own));
      expect(erpGrants).not.toContain(logicalId(own));
    }
    for (const theirs of [stack.tables.erpProcessedUsers, stack.tables.erpEmployees, stack.events.queue,
      stack.tables.users, stack.eventsTopic.topic]) {
      expect(mirrorGrants).not.toContain(logicalId(theirs));
    }
  });

  test('crm-api reads its view for a user\'s sync status, and only reads it', () => {
    expect(statementsOf(template, crmApi)).toContainEqual({
      Action: 'dynamodb:GetItem',
      Effect: 'Allow',
      Resource: [arnOf(stack.tables.mirrorContacts), arnOf(stack.tables.erpEmployees)],
    });
  });

  test('outputs its queue, dead-letter queue and tables', () => {
    const outputs = template.toJSON().Outputs;
    expect(outputs.MirrorQueueUrl.Value).toEqual(ref(stack.mirrorEvents.queue));
    expect(outputs.MirrorDeadLetterQueueUrl.Value).toEqual(ref(stack.mirrorEvents.deadLetters));
    expect(outputs.CrmMirrorContactsTableName.Value).toEqual(ref(stack.tables.mirrorContacts));
    expect(outputs.CrmMirrorProcessedEventsTableName.Value).toEqual(ref(stack.tables.mirrorProcessedEvents));
    expect(outputs.CrmMirrorCredentialsSecretArn).toBeUndefined();
  });

  describe('with context mirrorEndpointUrl', () => {
    const app = testApp({ mirrorEndpointUrl: CRM_URL });
    const withCrm = testStack(configFromContext(app), app);
    const t = Template.fromStack(withCrm);
    const secret = withCrm.mirrorCredentials!;

    test('crm-mirror gets the URL and its own secret\'s ARN, which only it may read', () => {
      expect(withCrm.erpCredentials).toBeUndefined();
      const env = t.toJSON().Resources[logicalId(withCrm.functions.crmMirror)].Properties.Environment.Variables;
      expect(env).toMatchObject({ MIRROR_ENDPOINT_URL: CRM_URL, MIRROR_CREDENTIALS_SECRET_ARN: idOf(secret) });
      expect(statementsOf(t, withCrm.functions.crmMirror)).toContainEqual({
        Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: idOf(secret),
      });
      for (const fn of [withCrm.functions.erpProcessor, withCrm.functions.crmApi]) {
        expect(JSON.stringify(statementsOf(t, fn))).not.toContain(logicalId(secret));
      }
      expect(t.toJSON().Resources[logicalId(secret)].Properties.Description)
        .toBe('Bearer token crm-mirror sends to the CRM mirror (MIRROR_ENDPOINT_URL); replace the generated '
          + 'value with the real token');
      expect(t.toJSON().Outputs.CrmMirrorCredentialsSecretArn.Value).toEqual(idOf(secret));
    });
  });
});
