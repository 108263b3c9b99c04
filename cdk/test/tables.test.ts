import { Template } from 'aws-cdk-lib/assertions';
import { configFromContext } from '../lib/stack';
import { Tables } from '../lib/tables';
import { logicalId, templateOf, testApp, testStack } from './helpers';

describe('tables', () => {
  const stack = testStack();
  const template = Template.fromStack(stack);
  const users = () => template.toJSON().Resources[logicalId(stack.tables.users)];
  const erp = () => template.toJSON().Resources[logicalId(stack.tables.erpProcessedUsers)];
  const employees = () => template.toJSON().Resources[logicalId(stack.tables.erpEmployees)];

  test('Users is keyed by the string Id, as the original table was', () => {
    expect(users().Properties.KeySchema).toEqual([{ AttributeName: 'Id', KeyType: 'HASH' }]);
    expect(users().Properties.AttributeDefinitions).toEqual(
      expect.arrayContaining([{ AttributeName: 'Id', AttributeType: 'S' }]));
  });

  test('ErpProcessedUsers is keyed by the string EventId', () => {
    expect(erp().Properties.KeySchema).toEqual([{ AttributeName: 'EventId', KeyType: 'HASH' }]);
  });

  test('ErpProcessedUsers finds a user\'s records through the ByUserId index on UserId, keys only', () => {
    // No NonKeyAttributes: UserName and UserEmail (PII) are not copied into the index.
    expect(erp().Properties.GlobalSecondaryIndexes).toEqual([{
      IndexName: Tables.BY_USER_ID_INDEX,
      KeySchema: [{ AttributeName: 'UserId', KeyType: 'HASH' }],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    }]);
    expect(Tables.BY_USER_ID_INDEX).toBe('ByUserId');
    expect(erp().Properties.AttributeDefinitions).toEqual(expect.arrayContaining([
      { AttributeName: 'EventId', AttributeType: 'S' },
      { AttributeName: 'UserId', AttributeType: 'S' },
    ]));
  });

  test('ErpEmployees is keyed by the string UserId, without an index', () => {
    expect(employees().Properties.KeySchema).toEqual([{ AttributeName: 'UserId', KeyType: 'HASH' }]);
    expect(employees().Properties.AttributeDefinitions).toEqual([{ AttributeName: 'UserId', AttributeType: 'S' }]);
    expect(employees().Properties.GlobalSecondaryIndexes).toBeUndefined();
  });

  test.each([['Users', users], ['ErpProcessedUsers', erp], ['ErpEmployees', employees]])(
    '%s bills on demand, has 35 days of point-in-time recovery and AWS managed encryption',
    (_name, table) => {
      const props = table().Properties;
      expect(props.BillingMode).toBe('PAY_PER_REQUEST');
      expect(props.PointInTimeRecoverySpecification).toEqual({
        PointInTimeRecoveryEnabled: true,
        RecoveryPeriodInDays: 35,
      });
      // SSEEnabled without a key is KMS with the AWS managed key aws/dynamodb.
      expect(props.SSESpecification).toEqual({ SSEEnabled: true });
    });

  test('context recoveryPeriodDays shortens every table\'s point-in-time recovery', () => {
    // Users and the processed tables hold names and emails; the views follow them, so all
    // five can be restored to the same moment.
    const app = testApp({ recoveryPeriodDays: '7' });
    const tables = Object.values(Template.fromStack(testStack(configFromContext(app), app))
      .findResources('AWS::DynamoDB::Table'));
    expect(tables.map(t => t.Properties.PointInTimeRecoverySpecification)).toEqual([
      ...Array(5).fill({ PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 7 }),
    ]);
  });

  test.each(['0', '36', '1.5', 'week'])('refuses recoveryPeriodDays=%s, failing the synth', (days) => {
    expect(() => configFromContext(testApp({ recoveryPeriodDays: days }))).toThrow(
      `context recoveryPeriodDays=${days}: use a whole number of days from 1 to 35`);
  });

  test('table names are generated, never hard-coded', () => {
    for (const table of [users, erp, employees]) {
      expect(table().Properties.TableName).toBeUndefined();
    }
  });

  test('the dev stage deletes its tables with the stack, without deletion protection', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    expect(template.findResources('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' })).toEqual({});
    for (const table of [users, erp, employees]) {
      expect(table().Properties.DeletionProtectionEnabled).toBe(false);
    }
  });

  test.each(['prod', 'staging'])('stage %s turns on deletion protection for every table', (stage) => {
    const other = testStack({ stage });
    const res = Template.fromStack(other).toJSON().Resources;
    for (const table of [other.tables.users, other.tables.erpProcessedUsers, other.tables.erpEmployees]) {
      expect(res[logicalId(table)].Properties.DeletionProtectionEnabled).toBe(true);
    }
  });

  test.each(['prod', 'staging'])('stage %s retains its tables when the stack is deleted', (stage) => {
    const other = templateOf({ stage });
    const tables = Object.values(other.findResources('AWS::DynamoDB::Table'));
    expect(tables.map(t => [t.DeletionPolicy, t.UpdateReplacePolicy])).toEqual([
      ...Array(5).fill(['Retain', 'Retain']),
    ]);
  });
});
