import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { skipCheckov } from './checkov';

/** A downstream system a consumer may call over HTTP, and its secret's construct id. */
export interface CredentialsOf {
  /** `ErpCredentials`, `CrmMirrorCredentials`. */
  readonly id: string;
  /** The consumer's binary. */
  readonly consumer: string;
  /** The system, as a description names it: `the ERP`, `the CRM mirror`. */
  readonly system: string;
  /** The consumer's variable that holds the endpoint. */
  readonly endpointVariable: string;
}

export const ERP_CREDENTIALS: CredentialsOf = {
  id: 'ErpCredentials', consumer: 'erp-processor', system: 'the ERP', endpointVariable: 'ERP_ENDPOINT_URL',
};
export const MIRROR_CREDENTIALS: CredentialsOf = {
  id: 'CrmMirrorCredentials', consumer: 'crm-mirror', system: 'the CRM mirror', endpointVariable: 'MIRROR_ENDPOINT_URL',
};

/**
 * The bearer token a consumer sends to the system of context `erpEndpointUrl` (or
 * `mirrorEndpointUrl`), as `{"token": "…"}`. The stack generates a placeholder so the secret
 * exists from the first deployment; an operator replaces it with the token the system's
 * owner issued. The function reads it at cold start (its ARN is all its environment holds).
 */
export function credentialsSecret(
  scope: Construct, of: CredentialsOf, removalPolicy: RemovalPolicy,
): secretsmanager.Secret {
  const secret = new secretsmanager.Secret(scope, of.id, {
    description: `Bearer token ${of.consumer} sends to ${of.system} (${of.endpointVariable}); replace the `
      + `generated value with the real token`,
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
    reason: `The token is issued by ${of.system}'s owner, not by this stack: a rotation Lambda could not `
      + 'mint a new one. Rotate it there and put the new value in this secret (put-secret-value).',
  });
  skipCheckov(secret, {
    CKV_AWS_149: `Encrypted with the AWS managed key aws/secretsmanager; only ${of.consumer}'s role may `
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
