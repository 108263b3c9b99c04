import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BATCH_CONCURRENCY, ERP_SYSTEM_NAME, PROCESSOR_TIMEOUT } from '../lib/functions';
import { configFromContext } from '../lib/stack';
import { logicalId, ref, testApp, testStack } from './helpers';

describe('functions', () => {
  const stack = testStack();
  const resources = Template.fromStack(stack).toJSON().Resources;
  const crmApi = resources[logicalId(stack.functions.crmApi)].Properties;
  const processor = resources[logicalId(stack.functions.erpProcessor)].Properties;
  const both = [['crm-api', crmApi], ['erp-processor', processor]] as const;

  test.each(both)('%s is a provided.al2023 bootstrap binary on ARM64 by default', (_name, fn) => {
    expect(fn.Runtime).toBe('provided.al2023');
    expect(fn.Handler).toBe('bootstrap');
    expect(fn.Architectures).toEqual(['arm64']);
  });

  test('context architecture=x86_64 builds and runs both functions on x86_64', () => {
    const app = testApp({ architecture: 'x86_64' });
    const x86 = testStack(configFromContext(app), app);
    const res = Template.fromStack(x86).toJSON().Resources;
    expect(res[logicalId(x86.functions.crmApi)].Properties.Architectures).toEqual(['x86_64']);
    expect(res[logicalId(x86.functions.erpProcessor)].Properties.Architectures).toEqual(['x86_64']);
  });

  test('context buildProfile reaches the functions\' build: its code asset is another one', () => {
    // The asset's hash covers the bundling options (cargo lambda's command), not its output.
    const codeOf = (buildProfile?: 'release' | 'local') => {
      const s = testStack({ buildProfile });
      return Template.fromStack(s).toJSON().Resources[logicalId(s.functions.crmApi)].Properties.Code.S3Key;
    };
    expect(codeOf('release')).toBe(codeOf(undefined));
    expect(codeOf('local')).not.toBe(codeOf('release'));
  });

  test('crm-api gets the Users table name, the events topic, its outbox delivery (stream by default), each '
    + 'consumer\'s view table and its metrics namespace, nothing else', () => {
    expect(crmApi.Environment.Variables).toEqual({
      USERS_TABLE_NAME: ref(stack.tables.users),
      EVENTS_TOPIC_ARN: ref(stack.eventsTopic.topic),
      OUTBOX_DELIVERY: 'stream',
      ERP_EMPLOYEES_TABLE_NAME: ref(stack.tables.erpEmployees),
      MIRROR_CONTACTS_TABLE_NAME: ref(stack.tables.mirrorContacts),
      METRICS_NAMESPACE: 'CrmErp/dev',
    });
  });

  test('erp-processor gets its table names, the ERP system name, its batch concurrency, lease timeout, '
    + 'the events queue (for deferred records) and metrics namespace; without erpEndpointUrl, no ERP endpoint', () => {
    expect(ERP_SYSTEM_NAME).toBe('OracleFusion');
    expect(processor.Environment.Variables).toEqual({
      ERP_PROCESSED_TABLE_NAME: ref(stack.tables.erpProcessedUsers),
      ERP_EMPLOYEES_TABLE_NAME: ref(stack.tables.erpEmployees),
      ERP_SYSTEM_NAME: 'OracleFusion',
      BATCH_CONCURRENCY: String(BATCH_CONCURRENCY),
      // Longer than the function may run: a live invocation never loses its lease.
      CLAIM_TIMEOUT_SECONDS: '35',
      MAX_RECEIVE_COUNT: '5',
      EVENTS_QUEUE_URL: ref(stack.events.queue),
      METRICS_NAMESPACE: 'CrmErp/dev',
    });
    expect(processor.Timeout).toBe(PROCESSOR_TIMEOUT.toSeconds());
  });

  test('erp-processor may send a deferred record back to its own trigger queue; the others keep '
    + 'Lambda\'s loop detection', () => {
    expect(processor.RecursiveLoop).toBe('Allow');
    expect(crmApi.RecursiveLoop).toBeUndefined();
  });

  test('every function\'s metrics namespace is the stage\'s', () => {
    const prod = testStack({ stage: 'prod' });
    const res = Template.fromStack(prod).toJSON().Resources;
    for (const fn of [prod.functions.crmApi, prod.functions.erpProcessor, prod.functions.outboxRelay]) {
      expect(res[logicalId(fn)].Properties.Environment.Variables.METRICS_NAMESPACE).toBe('CrmErp/prod');
    }
  });

  test.each([
    ['crm-api', () => stack.functions.crmApi, () => crmApi],
    ['erp-processor', () => stack.functions.erpProcessor, () => processor],
  ])('%s logs JSON to its own log group, kept 30 days', (_name, fn, props) => {
    const logGroup = fn().logGroup;
    expect(props().LoggingConfig).toEqual({
      LogFormat: 'JSON',
      LogGroup: ref(logGroup),
      ApplicationLogLevel: 'INFO',
      SystemLogLevel: 'INFO',
    });
    expect(resources[logicalId(logGroup)].Properties.RetentionInDays).toBe(30);
  });

  test('each function has a log group of its own', () => {
    expect(crmApi.LoggingConfig.LogGroup).not.toEqual(processor.LoggingConfig.LogGroup);
  });

  test.each(both)('%s traces with X-Ray', (_name, fn) => {
    expect(fn.TracingConfig).toEqual({ Mode: 'Active' });
  });

  test('timeouts: 10 s for the API (under API Gateway\'s 29 s), 30 s for the processor', () => {
    expect(crmApi.Timeout).toBe(10);
    expect(processor.Timeout).toBe(30);
  });

  test.each(both)('%s has 256 MB of memory', (_name, fn) => {
    expect(fn.MemorySize).toBe(256);
  });

  test.each(both)('%s has no reserved concurrency (what bounds it is the event source or the stage)', (_name, fn) => {
    expect(fn.ReservedConcurrentExecutions).toBeUndefined();
  });

  test('only outbox-relay and reconciler, invoked asynchronously, have an asynchronous invocation config', () => {
    const configs = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::EventInvokeConfig'));
    expect(configs.map(c => c.Properties.FunctionName)).toEqual([
      ref(stack.functions.outboxRelay), ref(stack.functions.reconciler)]);
  });

  test.each(both)('%s has no hard-coded function name', (_name, fn) => {
    expect(fn.FunctionName).toBeUndefined();
  });

  test('each function runs as its own role with no AWS managed policy', () => {
    const crmRole = resources[logicalId(stack.functions.crmApi.role!)];
    const erpRole = resources[logicalId(stack.functions.erpProcessor.role!)];
    expect(crmApi.Role).toEqual({ 'Fn::GetAtt': [logicalId(stack.functions.crmApi.role!), 'Arn'] });
    expect(processor.Role).toEqual({ 'Fn::GetAtt': [logicalId(stack.functions.erpProcessor.role!), 'Arn'] });
    for (const role of [crmRole, erpRole]) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([{
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'lambda.amazonaws.com' },
      }]);
    }
  });

  test('dev deletes function logs with the stack; other stages retain them', () => {
    const prod = testStack({ stage: 'prod', architecture: lambda.Architecture.ARM_64 });
    const prodRes = Template.fromStack(prod).toJSON().Resources;
    expect(resources[logicalId(stack.functions.crmApi.logGroup)].DeletionPolicy).toBe('Delete');
    expect(prodRes[logicalId(prod.functions.crmApi.logGroup)].DeletionPolicy).toBe('Retain');
    expect(prodRes[logicalId(prod.functions.erpProcessor.logGroup)].DeletionPolicy).toBe('Retain');
  });
});
