import { CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { CHECKOV_METADATA_KEY } from '../lib/checkov';
import { CrmErpStack } from '../lib/stack';
import { testStack } from './helpers';

type Skip = { id: string; comment: string };

/**
 * Every checkov skip in a stack's template (what scripts/checkov reads), by resource as
 * `Type construct-path`.
 */
function skipsOf(stack: CrmErpStack): Record<string, Skip[]> {
  const resources = Template.fromStack(stack).toJSON().Resources;
  const pathOf: Record<string, string> = {};
  for (const c of stack.node.findAll()) {
    if (c instanceof CfnResource) {
      pathOf[Stack.of(c).resolve(c.logicalId)] = c.node.path
        .replace(`${stack.node.path}/`, '').replace(/\/Resource$/, '');
    }
  }
  const found: Record<string, Skip[]> = {};
  for (const [id, r] of Object.entries<{ Type: string; Metadata?: Record<string, any> }>(resources)) {
    const skip: Skip[] | undefined = r.Metadata?.[CHECKOV_METADATA_KEY]?.skip;
    if (skip) found[`${r.Type} ${pathOf[id]}`] = skip;
  }
  return found;
}

const idsOf = (skips: Record<string, Skip[]>) =>
  Object.fromEntries(Object.entries(skips).map(([r, s]) => [r, s.map(x => x.id).sort()]));

describe('checkov skips', () => {
  const skips = skipsOf(testStack());
  // scripts/checkov scans the dev defaults; this is what it would find with an ERP.
  const withErp = skipsOf(testStack({ erpEndpointUrl: 'https://erp.example.com' }));

  test('skips only these checks, on these resources', () => {
    const lambdaBoundElsewhere = ['CKV_AWS_115', 'CKV_AWS_116', 'CKV_AWS_117', 'CKV_AWS_173'];
    expect(idsOf(skips)).toEqual({
      // API cache cluster
      'AWS::ApiGateway::Stage RestApi/Api/DeploymentStage.prod': ['CKV_AWS_120'],
      // customer managed KMS key
      'AWS::DynamoDB::Table Tables/Users': ['CKV_AWS_119'],
      'AWS::DynamoDB::Table Tables/ErpProcessedUsers': ['CKV_AWS_119'],
      'AWS::DynamoDB::Table Tables/ErpEmployees': ['CKV_AWS_119'],
      'AWS::DynamoDB::Table Tables/CrmMirrorProcessedEvents': ['CKV_AWS_119'],
      'AWS::DynamoDB::Table Tables/CrmMirrorContacts': ['CKV_AWS_119'],
      // reserved concurrency, DLQ, VPC, KMS key for the environment
      'AWS::Lambda::Function Functions/CrmApi': lambdaBoundElsewhere,
      'AWS::Lambda::Function Functions/ErpProcessor': lambdaBoundElsewhere,
      'AWS::Lambda::Function Functions/CrmMirror': lambdaBoundElsewhere,
      // the relay has reserved concurrency 1, and an on-failure destination for a DLQ
      'AWS::Lambda::Function Functions/OutboxRelay': ['CKV_AWS_116', 'CKV_AWS_117', 'CKV_AWS_173'],
      'AWS::Lambda::Function Functions/Reconciler': lambdaBoundElsewhere,
      // KMS key
      'AWS::Logs::LogGroup Functions/CrmApiLogs': ['CKV_AWS_158'],
      'AWS::Logs::LogGroup Functions/ErpProcessorLogs': ['CKV_AWS_158'],
      'AWS::Logs::LogGroup Functions/CrmMirrorLogs': ['CKV_AWS_158'],
      'AWS::Logs::LogGroup Functions/OutboxRelayLogs': ['CKV_AWS_158'],
      'AWS::Logs::LogGroup Functions/ReconcilerLogs': ['CKV_AWS_158'],
      'AWS::Logs::LogGroup RestApi/AccessLogs': ['CKV_AWS_158'],
      // KMS key (the queues use SQS managed encryption)
      'AWS::SQS::Queue Events/Queue': ['CKV_AWS_27'],
      'AWS::SQS::Queue Events/DeadLetters': ['CKV_AWS_27'],
      'AWS::SQS::Queue MirrorEvents/Queue': ['CKV_AWS_27'],
      'AWS::SQS::Queue MirrorEvents/DeadLetters': ['CKV_AWS_27'],
      'AWS::SQS::Queue EventsTopic/DeliveryFailures': ['CKV_AWS_27'],
      'AWS::SQS::Queue Functions/OutboxRelayFailures': ['CKV_AWS_27'],
    });
  });

  test('an ERP endpoint adds only its secret\'s skip', () => {
    expect(idsOf(withErp)).toEqual({
      ...idsOf(skips),
      // customer managed KMS key
      'AWS::SecretsManager::Secret ErpCredentials': ['CKV_AWS_149'],
    });
  });

  test.each([
    ['without an ERP endpoint', skips],
    ['with an ERP endpoint', withErp],
  ])('each skip names its check once per resource, with a one-line reason (%s)', (_case, all) => {
    for (const [resource, list] of Object.entries(all)) {
      expect(new Set(list.map(s => s.id)).size).toBe(list.length);
      for (const { id, comment } of list) {
        expect([resource, id, comment.length > 60 && comment.length <= 200 && !comment.includes('\n')])
          .toEqual([resource, id, true]);
      }
    }
  });

  test('no stage or other setting adds or drops a skip', () => {
    const prod = testStack({
      stage: 'prod', architecture: lambda.Architecture.X86_64, alarmEmail: 'ops@example.com', batchConcurrency: 2,
    });
    expect(skipsOf(prod)).toEqual(skips);
    expect(skipsOf(testStack({ outboxDelivery: 'request' }))).toEqual(skips);
    expect(skipsOf(testStack({ stage: 'prod', erpEndpointUrl: 'https://erp.example.com' }))).toEqual(withErp);
    expect(idsOf(skipsOf(testStack({ mirrorEndpointUrl: 'https://crm.example.com' })))).toEqual({
      ...idsOf(skips),
      'AWS::SecretsManager::Secret CrmMirrorCredentials': ['CKV_AWS_149'],
    });
  });
});
