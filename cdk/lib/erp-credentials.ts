import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { skipCheckov } from './checkov';

/**
 * The bearer token erp-processor sends to the ERP of context `erpEndpointUrl`, as
 * `{"token": "…"}`. The stack generates a placeholder so the secret exists from the first
 * deployment; an operator replaces it with the token the ERP's owner issued. The function
 * reads it at cold start (its ARN is all its environment holds).
 */
export function erpCredentialsSecret(scope: Construct, removalPolicy: RemovalPolicy): secretsmanager.Secret {
  const secret = new secretsmanager.Secret(scope, 'ErpCredentials', {
    description: 'Bearer token erp-processor sends to the ERP (ERP_ENDPOINT_URL); replace the '
      + 'generated value with the ERP\'s real token',
    generateSecretString: {
      secretStringTemplate: '{}',
      generateStringKey: 'token',
      excludePunctuation: true,
      passwordLength: 48,
    },
    removalPolicy,
  });
  Validations.of(secret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason: 'The token is issued by the ERP\'s owner, not by this stack: a rotation Lambda could not '
      + 'mint a new one. Rotate it at the ERP and put the new value in this secret (put-secret-value).',
  });
  skipCheckov(secret, {
    CKV_AWS_149: 'Encrypted with the AWS managed key aws/secretsmanager; only erp-processor\'s role may '
      + 'read it (lib/stack.ts), and a customer managed key would add a key policy and KMS costs.',
  });
  return secret;
}

/**
 * The secret's ARN as the `Id` attribute (`Fn::GetAtt`) rather than `Ref`. Both are the ARN
 * on AWS; the local emulator resolves `Ref` to the secret's name, which would make the
 * function's variable and its grant name no ARN there. One expression, right in both.
 */
export function secretArn(secret: secretsmanager.Secret): string {
  return (secret.node.defaultChild as secretsmanager.CfnSecret).attrId;
}
