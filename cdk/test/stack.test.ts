import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { CrmErpStack, configFromContext, stackName } from '../lib/stack';
import { arnOf, logicalId, ref, testApp, testStack } from './helpers';

type Statement = { Action: string | string[]; Effect: string; Resource: unknown };

/** The statements of the one inline policy attached to a function's role. */
export function statementsOf(template: Template, fn: lambda.Function): Statement[] {
  const roleId = logicalId(fn.role as iam.Role);
  const policies = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter(p => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]));
  expect(policies).toHaveLength(1);
  return policies[0].Properties.PolicyDocument.Statement;
}

describe('stack wiring', () => {
  const stack = testStack();
  const template = Template.fromStack(stack);
  const { crmApi, erpProcessor } = stack.functions;
  // Which actions each role holds is not frozen here: the e2e suite records every call each
  // function's role makes in the enforcing local stack and compares them with these
  // policies, action by resource (scripts/stack/tests/e2e/grants.rs, stack::grants).
  test('each function has one inline policy', () => {
    for (const fn of [crmApi, erpProcessor, stack.functions.outboxRelay]) {
      expect(statementsOf(template, fn).length).toBeGreaterThan(0);
    }
  });

  test.each([
    ['stream delivery (the default)', {}, ['dynamodb:ListStreams']],
    ['request delivery', { outboxDelivery: 'request' as const }, []],
  ])('only X-Ray\'s actions (and the relay\'s ListStreams, with the stream) have Resource "*" (%s)',
    (_case, overrides, relayExtra) => {
      const s = testStack(overrides);
      const t = Template.fromStack(s);
      const xray = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
      const fns = s.functions;
      for (const fn of [fns.crmApi, fns.erpProcessor, fns.crmMirror, fns.outboxRelay, fns.reconciler]) {
        const onAny = statementsOf(t, fn)
          .filter(st => [st.Resource].flat().includes('*'))
          .flatMap(st => [st.Action].flat())
          .sort();
        expect(onAny).toEqual(fn === fns.outboxRelay ? [...relayExtra, ...xray].sort() : xray);
      }
    });

  test('no IAM policy in the stack allows a wildcard action', () => {
    const actions = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap(p => p.Properties.PolicyDocument.Statement as Statement[])
      .flatMap(s => [s.Action].flat());
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter(a => a.includes('*'))).toEqual([]);
  });

  test('the queue feeds erp-processor in batches of 10 with a 1 s window and partial failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arnOf(stack.events.queue),
      FunctionName: ref(erpProcessor),
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  test('the batch size is the processor\'s BATCH_CONCURRENCY', () => {
    const [mapping] = Object.values(template.findResources('AWS::Lambda::EventSourceMapping', {
      Properties: { FunctionName: ref(erpProcessor) },
    }));
    const processor = template.toJSON().Resources[logicalId(erpProcessor)].Properties;
    expect(String(mapping.Properties.BatchSize)).toBe(processor.Environment.Variables.BATCH_CONCURRENCY);
  });

  test('context maxConcurrency bounds the processors the queue drives', () => {
    const app = testApp({ maxConcurrency: '25' });
    const t = Template.fromStack(testStack(configFromContext(app), app));
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 25 } });
  });

  test('context batchConcurrency sets the processor\'s workers; batches stay 10 records', () => {
    const app = testApp({ maxConcurrency: '25', batchConcurrency: '3' });
    const s = testStack(configFromContext(app), app);
    const t = Template.fromStack(s);
    const processor = t.toJSON().Resources[logicalId(s.functions.erpProcessor)].Properties;
    expect(processor.Environment.Variables.BATCH_CONCURRENCY).toBe('3');
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 25 },
    });
    expect(t.toJSON().Outputs.ErpConcurrencyCeiling.Value).toBe('75');
  });

  test('outputs the two endpoints, every table name, the events topic and both queue URLs', () => {
    const apiUrl = (suffix: string) => ({
      'Fn::Join': ['', [
        'https://', ref(stack.restApi.api), '.execute-api.', { Ref: 'AWS::Region' }, '.',
        { Ref: 'AWS::URLSuffix' }, '/', ref(stack.restApi.api.deploymentStage), suffix,
      ]],
    });
    const outputs = template.toJSON().Outputs;
    expect(outputs.CrmApiUrl.Value).toEqual(apiUrl('/api/crm'));
    expect(outputs.EventsUrl.Value).toEqual(apiUrl('/events'));
    expect(outputs.UsersTableName.Value).toEqual(ref(stack.tables.users));
    expect(outputs.ErpProcessedUsersTableName.Value).toEqual(ref(stack.tables.erpProcessedUsers));
    expect(outputs.ErpEmployeesTableName.Value).toEqual(ref(stack.tables.erpEmployees));
    expect(outputs.EventsTopicArn.Value).toEqual(ref(stack.eventsTopic.topic));
    expect(outputs.EventsQueueUrl.Value).toEqual(ref(stack.events.queue));
    expect(outputs.DeadLetterQueueUrl.Value).toEqual(ref(stack.events.deadLetters));
  });

  test('outputs the dashboard\'s name and the ceiling of ERP calls in flight (10 x 10)', () => {
    const outputs = template.toJSON().Outputs;
    expect(outputs.DashboardName.Value).toEqual(ref(stack.dashboard.dashboard));
    expect(outputs.ErpConcurrencyCeiling.Value).toBe('100');
  });
});

describe('context', () => {
  test('defaults: stage dev, ARM64, the release build profile, max concurrency 10, batch concurrency 10, no ERP, no alarm email, 35 days of backups', () => {
    expect(configFromContext(testApp())).toEqual({
      stage: 'dev',
      architecture: lambda.Architecture.ARM_64,
      buildProfile: 'release',
      outboxDelivery: 'stream',
      maxConcurrency: 10,
      batchConcurrency: 10,
      erpEndpointUrl: undefined,
      alarmEmail: undefined,
      queueVisibilityTimeout: undefined,
      outboxGrace: undefined,
      reconcileMinutes: 60,
      reconcileSettle: undefined,
      recoveryPeriodDays: 35,
    });
  });

  test('reads every key, as the CLI passes them (strings)', () => {
    const app = testApp({
      stage: 'prod', architecture: 'x86_64', buildProfile: 'local', outboxDelivery: 'request', maxConcurrency: '50',
      alarmEmail: 'ops@example.com',
      queueVisibilitySeconds: '2', outboxGraceSeconds: '0', batchConcurrency: '1',
      erpEndpointUrl: 'https://erp.example.com/api/v1', recoveryPeriodDays: '1',
      reconcileMinutes: '5', reconcileSettleSeconds: '30',
    });
    const config = configFromContext(app);
    expect({
      ...config,
      queueVisibilityTimeout: config.queueVisibilityTimeout?.toSeconds(),
      outboxGrace: config.outboxGrace?.toSeconds(),
      reconcileSettle: config.reconcileSettle?.toSeconds(),
    }).toEqual({
      stage: 'prod',
      architecture: lambda.Architecture.X86_64,
      buildProfile: 'local',
      outboxDelivery: 'request',
      maxConcurrency: 50,
      batchConcurrency: 1,
      erpEndpointUrl: 'https://erp.example.com/api/v1',
      alarmEmail: 'ops@example.com',
      queueVisibilityTimeout: 2,
      outboxGrace: 0,
      reconcileMinutes: 5,
      reconcileSettle: 30,
      recoveryPeriodDays: 1,
    });
  });

  test('the local stack\'s timings reach the queue and the relay', () => {
    const app = testApp({ queueVisibilitySeconds: '2', outboxGraceSeconds: '3' });
    const stack = testStack(configFromContext(app), app);
    const resources = Template.fromStack(stack).toJSON().Resources;
    expect(resources[logicalId(stack.events.queue)].Properties.VisibilityTimeout).toBe(2);
    // Lambda refuses a queue whose visibility timeout is shorter than its consumer's timeout.
    expect(resources[logicalId(stack.functions.erpProcessor)].Properties.Timeout).toBe(2);
    expect(resources[logicalId(stack.functions.outboxRelay)].Properties.Environment.Variables
      .OUTBOX_GRACE_SECONDS).toBe('3');
  });

  test.each([
    [{ stage: 'Prod' }, /stage=Prod/],
    [{ architecture: 'arm' }, /architecture=arm: use arm64 or x86_64/],
    [{ buildProfile: 'dev' }, /buildProfile=dev: use release or local/],
    [{ outboxDelivery: 'later' }, /outboxDelivery=later: use stream or request/],
    [{ maxConcurrency: '1' }, /maxConcurrency=1: use an integer from 2 to 1000/],
    [{ maxConcurrency: '1001' }, /maxConcurrency=1001/],
    [{ maxConcurrency: 'ten' }, /maxConcurrency=ten/],
    [{ alarmEmail: 'ops' }, /alarmEmail=ops/],
    [{ queueVisibilitySeconds: '0' }, /queueVisibilitySeconds=0: use a whole number of seconds from 1 to 43200/],
    [{ outboxGraceSeconds: '1.5' }, /outboxGraceSeconds=1.5/],
    [{ batchConcurrency: '0' }, /batchConcurrency=0: use an integer from 1 to 10/],
    [{ batchConcurrency: '11' }, /batchConcurrency=11/],
    [{ batchConcurrency: '2.5' }, /batchConcurrency=2.5/],
    [{ recoveryPeriodDays: '36' }, /recoveryPeriodDays=36: use a whole number of days from 1 to 35/],
    [{ erpEndpointUrl: 'erp.example.com' }, /erpEndpointUrl=erp.example.com: not a URL/],
    [{ erpEndpointUrl: 'http://erp.example.com' },
      /erpEndpointUrl=http:\/\/erp.example.com: use https, or http only to a loopback host/],
    [{ erpEndpointUrl: 'http://127.0.0.1.example.com' }, /use https, or http only to a loopback host/],
    [{ erpEndpointUrl: 'http://localhost.example.com' }, /use https, or http only to a loopback host/],
    [{ erpEndpointUrl: 'http://10.0.0.1:8080' }, /use https, or http only to a loopback host/],
    [{ erpEndpointUrl: 'ftp://127.0.0.1' }, /use https, or http only to a loopback host/],
    [{ erpEndpointUrl: 'https://user:token@erp.example.com' }, /no credentials in the URL/],
    [{ mirrorEndpointUrl: 'http://crm.example.com' },
      /mirrorEndpointUrl=http:\/\/crm.example.com: use https, or http only to a loopback host/],
    [{ mirrorEndpointUrl: 'https://u:t@crm.example.com' }, /the CrmMirrorCredentials secret/],
  ])('rejects %j with a clear message', (context, message) => {
    expect(() => configFromContext(testApp(context))).toThrow(message);
  });

  test.each([
    'https://erp.example.com',
    'https://erp.example.com:8443/api/v1',
    'http://127.0.0.1:8080',
    'http://127.10.20.30/erp',
    'http://localhost:3000',
    'http://LOCALHOST:3000',
    'http://[::1]:9000',
  ])('takes erpEndpointUrl=%s as it is (https, or http to a loopback host)', url => {
    expect(configFromContext(testApp({ erpEndpointUrl: url })).erpEndpointUrl).toBe(url);
  });

  test('an empty erpEndpointUrl is no ERP', () => {
    expect(configFromContext(testApp({ erpEndpointUrl: '' })).erpEndpointUrl).toBeUndefined();
  });

  test('the stack is named after the stage', () => {
    expect(stackName('dev')).toBe('CrmErp-dev');
    const app = testApp({ stage: 'prod' });
    const config = configFromContext(app);
    expect(new CrmErpStack(app, stackName(config.stage), config).stackName).toBe('CrmErp-prod');
  });
});
