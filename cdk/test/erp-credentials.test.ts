import { Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { logicalId, testStack } from './helpers';
import { statementsOf } from './stack.test';

const ERP_URL = 'https://erp.example.com/api/v1';

/** The secret's ARN as its `Id` attribute: `Ref` would be its name in the local emulator. */
const idOf = (secret: secretsmanager.Secret) => ({ 'Fn::GetAtt': [logicalId(secret), 'Id'] });

describe('the ERP endpoint and its credentials', () => {
  const stack = testStack({ erpEndpointUrl: ERP_URL });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  const secret = stack.erpCredentials!;
  const env = (fn: typeof stack.functions.crmApi) => resources[logicalId(fn)].Properties.Environment.Variables;

  test('generates a placeholder token in a secret, for an operator to replace', () => {
    expect(Object.keys(template.findResources('AWS::SecretsManager::Secret'))).toEqual([logicalId(secret)]);
    expect(resources[logicalId(secret)].Properties).toEqual({
      Description: 'Bearer token erp-processor sends to the ERP (ERP_ENDPOINT_URL); replace the generated '
        + 'value with the real token',
      GenerateSecretString: {
        SecretStringTemplate: '{}',
        GenerateStringKey: 'token',
        ExcludePunctuation: true,
        PasswordLength: 48,
      },
    });
  });

  test('erp-processor gets the URL and the secret\'s ARN, never its value', () => {
    expect(env(stack.functions.erpProcessor)).toMatchObject({
      ERP_ENDPOINT_URL: ERP_URL,
      ERP_CREDENTIALS_SECRET_ARN: idOf(secret),
    });
    // No dynamic reference ({{resolve:secretsmanager:…}}) puts the token in any configuration.
    expect(JSON.stringify(template.toJSON())).not.toMatch(/resolve:secretsmanager/);
  });

  test('crm-api and outbox-relay get neither the URL nor the secret', () => {
    for (const fn of [stack.functions.crmApi, stack.functions.outboxRelay]) {
      expect(Object.keys(env(fn)).filter(k => k.startsWith('ERP_') && k !== 'ERP_EMPLOYEES_TABLE_NAME'))
        .toEqual([]);
    }
  });

  test('only erp-processor may read the secret', () => {
    expect(statementsOf(template, stack.functions.erpProcessor)).toContainEqual({
      Action: 'secretsmanager:GetSecretValue',
      Effect: 'Allow',
      Resource: idOf(secret),
    });
    for (const fn of [stack.functions.crmApi, stack.functions.outboxRelay]) {
      expect(JSON.stringify(statementsOf(template, fn))).not.toContain(logicalId(secret));
    }
    // Nor does a resource policy grant anyone else.
    expect(template.findResources('AWS::SecretsManager::ResourcePolicy')).toEqual({});
  });

  test('outputs the secret\'s ARN', () => {
    expect(template.toJSON().Outputs.ErpCredentialsSecretArn.Value).toEqual(idOf(secret));
  });

  test('dev deletes the secret with the stack; other stages retain it', () => {
    expect(resources[logicalId(secret)].DeletionPolicy).toBe('Delete');
    const prod = testStack({ stage: 'prod', erpEndpointUrl: ERP_URL });
    const prodSecret = Template.fromStack(prod).toJSON().Resources[logicalId(prod.erpCredentials!)];
    expect(prodSecret.DeletionPolicy).toBe('Retain');
    expect(prodSecret.UpdateReplacePolicy).toBe('Retain');
  });

  test('without erpEndpointUrl: no secret, no ERP variables, no output', () => {
    const plain = testStack();
    const t = Template.fromStack(plain);
    expect(plain.erpCredentials).toBeUndefined();
    expect(t.findResources('AWS::SecretsManager::Secret')).toEqual({});
    const vars = t.toJSON().Resources[logicalId(plain.functions.erpProcessor)].Properties.Environment.Variables;
    expect(vars.ERP_ENDPOINT_URL).toBeUndefined();
    expect(vars.ERP_CREDENTIALS_SECRET_ARN).toBeUndefined();
    expect(t.toJSON().Outputs.ErpCredentialsSecretArn).toBeUndefined();
    expect(JSON.stringify(t.toJSON())).not.toMatch(/secretsmanager/);
  });
});
