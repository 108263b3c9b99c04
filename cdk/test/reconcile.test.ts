import { Template } from 'aws-cdk-lib/assertions';
import { Duration } from 'aws-cdk-lib';
import { RECONCILE_SCHEDULE_MINUTES, RECONCILE_SETTLE, RECONCILER_TIMEOUT } from '../lib/functions';
import { configFromContext } from '../lib/stack';
import { arnOf, logicalId, ref, testApp, testStack } from './helpers';

describe('the scheduled reconciliation', () => {
  const stack = testStack();
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  const { reconciler } = stack.functions;
  const fn = resources[logicalId(reconciler)].Properties;

  test('reconciler is a Rust binary with Users, each consumer\'s view, its settling time and namespace', () => {
    expect(fn.Runtime).toBe('provided.al2023');
    expect(fn.Timeout).toBe(RECONCILER_TIMEOUT.toSeconds());
    expect(fn.Environment.Variables).toEqual({
      USERS_TABLE_NAME: ref(stack.tables.users),
      ERP_EMPLOYEES_TABLE_NAME: ref(stack.tables.erpEmployees),
      MIRROR_CONTACTS_TABLE_NAME: ref(stack.tables.mirrorContacts),
      RECONCILE_SETTLE_SECONDS: String(RECONCILE_SETTLE.toSeconds()),
      METRICS_NAMESPACE: 'CrmErp/dev',
    });
    expect(fn.LoggingConfig).toMatchObject({ LogFormat: 'JSON', LogGroup: ref(reconciler.logGroup) });
  });

  test('it may only scan Users and batch-read the consumers\' views, and write its own logs', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter(p => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === logicalId(reconciler.role!)));
    const statements = policies.flatMap(p => p.Properties.PolicyDocument.Statement);
    const dynamo = statements.filter((s: { Action: string | string[] }) => String(s.Action).startsWith('dynamodb:'));
    expect(dynamo).toEqual([
      { Action: 'dynamodb:Scan', Effect: 'Allow', Resource: arnOf(stack.tables.users) },
      {
        Action: 'dynamodb:BatchGetItem',
        Effect: 'Allow',
        Resource: [arnOf(stack.tables.mirrorContacts), arnOf(stack.tables.erpEmployees)],
      },
    ]);
    const actions = statements.flatMap((s: { Action: string | string[] }) => [s.Action].flat());
    expect(actions.filter((a: string) => !a.startsWith('dynamodb:') && !a.startsWith('logs:')
      && !a.startsWith('xray:'))).toEqual([]);
  });

  test('an EventBridge rule runs it hourly by default, without retries', () => {
    expect(RECONCILE_SCHEDULE_MINUTES).toBe(60);
    expect(resources[logicalId(stack.reconcileSchedule)].Properties).toMatchObject({
      ScheduleExpression: 'rate(1 hour)',
      Targets: [{ Arn: arnOf(reconciler), RetryPolicy: { MaximumRetryAttempts: 0 } }],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: ref(reconciler),
      MaximumRetryAttempts: 0,
    });
  });

  test('DriftFound alarms on a run\'s drifted users, held over the schedule\'s period', () => {
    expect(resources[logicalId(stack.alarms.driftFound)].Properties).toMatchObject({
      Namespace: 'CrmErp/dev',
      MetricName: 'DriftedUsers',
      Dimensions: [{ Name: 'Service', Value: 'reconciler' }],
      Statistic: 'Maximum',
      Period: 3600,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [ref(stack.alarms.topic)],
      OKActions: [ref(stack.alarms.topic)],
    });
    expect(resources[logicalId(stack.alarms.functionErrors.Reconciler)].Properties).toMatchObject({
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: ref(reconciler) }],
    });
  });

  test('the local stack\'s tests run it every minute and count every drift', () => {
    const local = testStack({ reconcileMinutes: 1, reconcileSettle: Duration.seconds(0) });
    const localResources = Template.fromStack(local).toJSON().Resources;
    expect(localResources[logicalId(local.reconcileSchedule)].Properties.ScheduleExpression).toBe('rate(1 minute)');
    expect(localResources[logicalId(local.functions.reconciler)].Properties.Environment.Variables
      .RECONCILE_SETTLE_SECONDS).toBe('0');
    expect(localResources[logicalId(local.alarms.driftFound)].Properties.Period).toBe(60);
  });

  test('context reconcileMinutes and reconcileSettleSeconds are checked', () => {
    const config = (context: Record<string, unknown>) => configFromContext(testApp(context));
    expect(config({}).reconcileMinutes).toBe(RECONCILE_SCHEDULE_MINUTES);
    expect(config({ reconcileMinutes: '15' }).reconcileMinutes).toBe(15);
    expect(config({ reconcileSettleSeconds: '0' }).reconcileSettle?.toSeconds()).toBe(0);
    expect(() => config({ reconcileMinutes: '0' })).toThrow(/reconcileMinutes=0: use a whole number of minutes from 1 to 1440/);
    expect(() => config({ reconcileMinutes: 'hourly' })).toThrow(/reconcileMinutes=hourly/);
    expect(() => config({ reconcileSettleSeconds: '-1' })).toThrow(/reconcileSettleSeconds=-1/);
  });
});
