import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { skipCheckov } from './checkov';
import { LOG_RETENTION, LOGS_NOT_KMS } from './functions';


/**
 * What a request without credentials is told. Only such a request gets it: every path and
 * method has a method of the API (see `answerEverySignedRequest`), so API Gateway never
 * answers a signed request for want of a route.
 */
export const MISSING_CREDENTIALS_MESSAGE = 'Missing Authentication Token: sign the request with AWS '
  + 'Signature Version 4 (service execute-api)';

export const STAGE_NAME = 'prod';

/**
 * Stage-wide throttling (requests per second, and the burst above it). Far above a CRM back
 * office's traffic, far below the account's 10,000 rps: it bounds what a runaway signed
 * client can cost in Lambda and DynamoDB on-demand capacity, and keeps the account's
 * shared API Gateway quota for other APIs.
 */
export const THROTTLE_RATE_LIMIT = 100;
export const THROTTLE_BURST_LIMIT = 200;

export interface RestApiProps {
  readonly crmApi: lambda.IFunction;
  readonly erpProcessor: lambda.IFunction;
  /** What happens to the access log group when the stack is deleted. */
  readonly logRemovalPolicy: RemovalPolicy;
}

/**
 * The one public entry point: a REST API (API Gateway v1) whose every method requires
 * IAM (SigV4) authorization, so nobody on the internet can call it unsigned.
 */
export class RestApi extends Construct {
  readonly api: apigw.RestApi;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RestApiProps) {
    super(scope, id);
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: LOG_RETENTION,
      removalPolicy: props.logRemovalPolicy,
    });
    skipCheckov(this.accessLogs, { CKV_AWS_158: LOGS_NOT_KMS });

    const f = apigw.AccessLogField;
    this.api = new apigw.RestApi(this, 'Api', {
      description: 'CRM to ERP integration: CRM users API and ERP events endpoint',
      // Callers are AWS services and operators signing with SigV4, not browsers around
      // the world: a regional endpoint skips the CloudFront hop of an edge endpoint.
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // The account-wide API Gateway logging role is a per-region singleton; this stack
      // writes access logs (which need no such role) and does not take the account role over.
      cloudWatchRole: false,
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
      deployOptions: {
        stageName: STAGE_NAME,
        tracingEnabled: true,
        throttlingRateLimit: THROTTLE_RATE_LIMIT,
        throttlingBurstLimit: THROTTLE_BURST_LIMIT,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        // Ids, status and latencies only: request bodies (names, emails) are never logged.
        accessLogFormat: apigw.AccessLogFormat.custom(JSON.stringify({
          requestId: f.contextRequestId(),
          requestTime: f.contextRequestTime(),
          httpMethod: f.contextHttpMethod(),
          resourcePath: f.contextResourcePath(),
          status: f.contextStatus(),
          protocol: f.contextProtocol(),
          responseLength: f.contextResponseLength(),
          responseLatency: f.contextResponseLatency(),
          integrationStatus: f.contextIntegrationStatus(),
          integrationLatency: f.contextIntegrationLatency(),
          // Why a request was refused (e.g. a bad signature) without execution logging.
          errorMessage: f.contextErrorMessage(),
          sourceIp: f.contextIdentitySourceIp(),
          callerArn: f.contextIdentityUserArn(),
          xrayTraceId: f.contextXrayTraceId(),
        })),
      },
    });

    // Lambda proxy integrations; the test-invoke permission is only for the console's
    // "Test" button, which this API does not need.
    const crm = new apigw.LambdaIntegration(props.crmApi, { allowTestInvoke: false });
    const erp = new apigw.LambdaIntegration(props.erpProcessor, { allowTestInvoke: false });

    const root = this.api.root;
    const api = root.addResource('api');
    const users = api.addResource('crm');
    users.addMethod('GET', crm);
    users.addMethod('POST', crm);
    const user = users.addResource('{id}');
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      user.addMethod(method, crm);
    }
    const openApi = root.addResource('openapi.json');
    openApi.addMethod('GET', crm);
    const swagger = root.addResource('swagger');
    swagger.addMethod('GET', crm);
    const events = root.addResource('events');
    events.addMethod('POST', erp);
    answerEverySignedRequest(root, crm, [
      [root, crm], [api, crm], [users, crm], [user, crm], [openApi, crm], [swagger, crm],
      [events, erp],
    ]);

    // A request without credentials is a 401 with the scheme to use (RFC 9110 §15.5.2), not
    // API Gateway's default 403, which is kept for credentials it refuses.
    this.api.addGatewayResponse('MissingCredentials', {
      type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
      statusCode: '401',
      responseHeaders: { 'WWW-Authenticate': "'AWS4-HMAC-SHA256'" },
      templates: {
        'application/json': JSON.stringify({ message: MISSING_CREDENTIALS_MESSAGE }),
      },
    });

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'Callers are AWS principals (services, operators, CI) authorized by IAM SigV4 on '
        + 'every method (AuthorizationType AWS_IAM, DESIGN.md Security); there are no end users '
        + 'to keep in a Cognito user pool.',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason: 'Input is validated by the functions: crm-api parses every field and answers 400 '
        + 'application/problem+json listing all invalid fields (the API contract). A gateway '
        + 'model would answer first, with its own body and only the first error.',
    });
    Validations.of(this.api.deploymentStage).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason: 'Every method requires a SigV4 signature: API Gateway rejects unsigned or '
        + 'unauthorized requests before any integration runs, and stage throttling bounds '
        + 'signed traffic. A WAF web ACL adds cost without narrowing who can call.',
    });
    Validations.of(this.api.deploymentStage).acknowledge({
      id: 'AwsSolutions-APIG6',
      reason: 'Execution logging needs the account-wide API Gateway CloudWatch role, a '
        + 'per-region singleton this stack must not own (cloudWatchRole: false). JSON access '
        + 'logs record every request with status, latencies and the error message instead.',
    });
    skipCheckov(this.api.deploymentStage, {
      CKV_AWS_120: 'No cache cluster: it bills by the hour, used or not, and would answer GET /api/crm '
        + 'and /api/crm/{id} with stale users (a client follows Location right after its POST).',
    });
  }

  /** The CRM users collection, `https://…/prod/api/crm`. */
  get crmApiUrl(): string {
    return this.api.urlForPath('/api/crm');
  }

  /** The ERP events endpoint, `https://…/prod/events`. */
  get eventsUrl(): string {
    return this.api.urlForPath('/events');
  }
}

/**
 * API Gateway answers a path or method it has no method for with MISSING_AUTHENTICATION_TOKEN,
 * the stack's 401, which sends a signed client looking for a credentials problem. The
 * functions know better (crm-api answers a path it does not serve with 404, each function a
 * method its path does not take with 405 and Allow), so every signed request reaches one:
 * ANY on each resource takes the methods it does not declare (declared ones still win), and
 * a greedy `{proxy+}` takes the paths no resource matches. ANY everywhere rather than API
 * Gateway's fallback to `{proxy+}` for a resource without the method: that fallback is
 * observed, not documented, and would send `PUT /events` to crm-api, which does not know
 * the path. Every method is IAM authorized (the API's default), so an unsigned request is
 * still refused before any function runs.
 */
function answerEverySignedRequest(
  root: apigw.IResource,
  crm: apigw.Integration,
  resources: [apigw.IResource, apigw.Integration][],
): void {
  for (const [resource, integration] of resources) {
    resource.addMethod('ANY', integration);
  }
  root.addProxy({ defaultIntegration: crm, anyMethod: true });
}
