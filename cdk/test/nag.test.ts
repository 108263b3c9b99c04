import { Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { testApp, testStack } from './helpers';

/** Rule ids of cdk-nag's unacknowledged findings in a synthesized app. */
function findings(scope: IConstruct): string[] {
  return new AwsSolutionsChecks().validateScope(scope).violations.map(v => v.ruleName);
}

/** Every acknowledgement in the tree, as `rule: reason`. */
function acknowledgements(scope: IConstruct): Record<string, string> {
  const found: Record<string, string> = {};
  for (const c of scope.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          found[`${c.node.path} ${id.replace(/^annotation::/i, '')}`] = reason;
        }
      }
    }
  }
  return found;
}

describe('cdk-nag AwsSolutions', () => {
  test.each([
    ['dev defaults', {}],
    ['request delivery (no Users stream)', { outboxDelivery: 'request' as const }],
    ['prod on x86_64 with an alarm email',
      { stage: 'prod', architecture: lambda.Architecture.X86_64, alarmEmail: 'ops@example.com' }],
    ['with an ERP endpoint (its credentials secret)', { erpEndpointUrl: 'https://erp.example.com' }],
    ['prod with an ERP endpoint', { stage: 'prod', erpEndpointUrl: 'https://erp.example.com' }],
  ])('finds nothing unacknowledged (%s)', (_case, overrides) => {
    const app = testApp();
    Template.fromStack(testStack(overrides, app)); // synthesize: the tree is final
    expect(findings(app)).toEqual([]);
  });

  const acknowledged = [
    'Test/EventsTopic/DeliveryFailures AwsSolutions-SQS3',
    'Test/Functions/CrmApiRole AwsSolutions-IAM5[Resource::*]',
    'Test/Functions/CrmMirrorRole AwsSolutions-IAM5[Resource::*]',
    'Test/Functions/ErpProcessorRole AwsSolutions-IAM5[Resource::*]',
    'Test/Functions/OutboxRelayFailures AwsSolutions-SQS3',
    'Test/Functions/OutboxRelayRole AwsSolutions-IAM5[Resource::*]',
    'Test/Functions/ReconcilerRole AwsSolutions-IAM5[Resource::*]',
    'Test/RestApi/Api AwsSolutions-APIG2',
    'Test/RestApi/Api AwsSolutions-COG4',
    'Test/RestApi/Api/DeploymentStage.prod AwsSolutions-APIG3',
    'Test/RestApi/Api/DeploymentStage.prod AwsSolutions-APIG6',
  ];

  test.each([
    ['without an ERP endpoint', {}, acknowledged],
    ['with request delivery', { outboxDelivery: 'request' as const }, acknowledged],
    // The ERP's token is rotated by the ERP's owner, not by a rotation Lambda.
    ['with an ERP endpoint', { erpEndpointUrl: 'https://erp.example.com' },
      [...acknowledged, 'Test/ErpCredentials AwsSolutions-SMG4'].sort()],
  ])('acknowledges only these rules, each with a specific reason (%s)', (_case, overrides, expected) => {
    const app = testApp();
    Template.fromStack(testStack(overrides, app));
    const acks = acknowledgements(app);
    expect(Object.keys(acks).sort()).toEqual(expected);
    for (const reason of Object.values(acks)) {
      expect(reason.length).toBeGreaterThan(100);
    }
  });

  test('would report what is not acknowledged (the check is not vacuous)', () => {
    const app = testApp();
    const stack = testStack({}, app);
    new sqs.Queue(stack, 'PlainQueue'); // no DLQ, no TLS policy
    Template.fromStack(stack);
    expect(findings(app)).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });
});
