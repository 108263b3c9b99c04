import { Match, Template } from 'aws-cdk-lib/assertions';
import { MISSING_CREDENTIALS_MESSAGE } from '../lib/rest-api';
import { logicalId, testStack } from './helpers';

describe('REST API', () => {
  const stack = testStack();
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  const apiId = logicalId(stack.restApi.api);

  /** `/api/crm/{id}` for a `ResourceId` or `ParentId`, following ParentId up to the root. */
  function pathOf(id: { [key: string]: any }): string {
    if (id['Fn::GetAtt']) return ''; // the API's root resource
    const r = resources[id.Ref];
    return `${pathOf(r.Properties.ParentId)}/${r.Properties.PathPart}`;
  }
  const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
  const routeOf = (m: { [key: string]: any }) =>
    `${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId) || '/'}`;
  const functionOf = (m: { [key: string]: any }) =>
    JSON.stringify(m.Properties.Integration).match(/"Fn::GetAtt":\["([^"]+)","Arn"\]/)?.[1];
  const crmApi = logicalId(stack.functions.crmApi);
  const erpProcessor = logicalId(stack.functions.erpProcessor);

  test('routes the CRM and docs paths to crm-api and /events to erp-processor; ANY takes every other method and path', () => {
    const routes = methods.map(m => [routeOf(m), functionOf(m)]);
    expect(routes.sort()).toEqual([
      ['ANY /', crmApi],
      ['ANY /api', crmApi],
      ['ANY /api/crm', crmApi],
      ['ANY /api/crm/{id}', crmApi],
      ['ANY /events', erpProcessor],
      ['ANY /openapi.json', crmApi],
      ['ANY /swagger', crmApi],
      ['ANY /{proxy+}', crmApi],
      ['DELETE /api/crm/{id}', crmApi],
      ['GET /api/crm', crmApi],
      ['GET /api/crm/{id}', crmApi],
      ['GET /openapi.json', crmApi],
      ['GET /swagger', crmApi],
      ['PATCH /api/crm/{id}', crmApi],
      ['POST /api/crm', crmApi],
      ['POST /events', erpProcessor],
    ]);
  });

  test('a greedy {proxy+} on the root sends a path the API does not have to crm-api (its 404), IAM authorized', () => {
    const proxy = Object.entries(template.findResources('AWS::ApiGateway::Resource', {
      Properties: { PathPart: '{proxy+}' },
    }));
    expect(proxy).toHaveLength(1);
    const [proxyId, resource] = proxy[0];
    expect(resource.Properties.ParentId).toEqual({ 'Fn::GetAtt': [apiId, 'RootResourceId'] });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      RestApiId: { Ref: apiId },
      ResourceId: { Ref: proxyId },
      HttpMethod: 'ANY',
      AuthorizationType: 'AWS_IAM',
      Integration: Match.objectLike({ Type: 'AWS_PROXY' }),
    });
    const [method] = methods.filter(m => m.Properties.ResourceId.Ref === proxyId);
    expect(functionOf(method)).toBe(crmApi);
  });

  test('every resource, the root included, has ANY for the methods it does not declare, IAM authorized', () => {
    // Then API Gateway's own "no such route" answer never meets a signed request: a method
    // a path does not take reaches that path's function, which answers 405 with Allow.
    const resourceIds = [
      ...Object.keys(template.findResources('AWS::ApiGateway::Resource')).map(id => ({ Ref: id })),
      { 'Fn::GetAtt': [apiId, 'RootResourceId'] },
    ];
    for (const id of resourceIds) {
      template.hasResourceProperties('AWS::ApiGateway::Method', {
        ResourceId: id,
        HttpMethod: 'ANY',
        AuthorizationType: 'AWS_IAM',
      });
    }
  });

  test('a request without credentials is a 401 naming the SigV4 scheme', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      RestApiId: { Ref: apiId },
      ResponseType: 'MISSING_AUTHENTICATION_TOKEN',
      StatusCode: '401',
      ResponseParameters: { 'gatewayresponse.header.WWW-Authenticate': "'AWS4-HMAC-SHA256'" },
      ResponseTemplates: {
        'application/json': JSON.stringify({ message: MISSING_CREDENTIALS_MESSAGE }),
      },
    });
    // Refused credentials keep API Gateway's 403: no other response type is customized.
    template.resourceCountIs('AWS::ApiGateway::GatewayResponse', 1);
    // Only an unsigned request gets it (every route has a method), so it names no other cause.
    expect(MISSING_CREDENTIALS_MESSAGE).not.toMatch(/path|method/);
  });

  test('every method requires IAM (SigV4) authorization', () => {
    expect(methods.length).toBeGreaterThan(0);
    for (const m of methods) {
      expect(m.Properties.AuthorizationType).toBe('AWS_IAM');
    }
  });

  test('every method is a Lambda proxy integration', () => {
    for (const m of methods) {
      expect(m.Properties.Integration).toMatchObject({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' });
    }
  });

  test('API Gateway may invoke each function only through this API\'s methods', () => {
    // (The relay's schedule has a permission of its own, for events.amazonaws.com.)
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission', {
      Properties: { Principal: 'apigateway.amazonaws.com' },
    }));
    for (const p of permissions) {
      expect(JSON.stringify(p.Properties.SourceArn)).toContain(apiId);
      // The console's test-invoke path (`test-invoke-stage`) is not allowed.
      expect(JSON.stringify(p.Properties.SourceArn)).not.toContain('test-invoke-stage');
    }
    // One per method, for the method's function.
    expect(permissions.map(p => p.Properties.FunctionName['Fn::GetAtt'][0]).sort())
      .toEqual(methods.map(functionOf).sort());
  });

  test('one stage, prod, traced with X-Ray and throttled', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      TracingEnabled: true,
      MethodSettings: [{
        HttpMethod: '*',
        ResourcePath: '/*',
        DataTraceEnabled: false,
        ThrottlingRateLimit: 100,
        ThrottlingBurstLimit: 200,
      }],
    });
  });

  test('writes JSON access logs, without bodies, to a log group kept 30 days', () => {
    const stage = resources[logicalId(stack.restApi.api.deploymentStage)].Properties;
    expect(JSON.stringify(stage.AccessLogSetting.DestinationArn)).toContain(logicalId(stack.restApi.accessLogs));
    const format = JSON.parse(stage.AccessLogSetting.Format);
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      httpMethod: '$context.httpMethod',
      resourcePath: '$context.resourcePath',
      status: '$context.status',
      errorMessage: '$context.error.message',
      callerArn: '$context.identity.userArn',
    });
    expect(Object.values(format).join(' ')).not.toMatch(/body|requestOverride/i);
    expect(resources[logicalId(stack.restApi.accessLogs)].Properties.RetentionInDays).toBe(30);
  });

  test('is a regional endpoint that does not take over the account\'s CloudWatch role', () => {
    expect(resources[apiId].Properties.EndpointConfiguration).toEqual({ Types: ['REGIONAL'] });
    expect(template.findResources('AWS::ApiGateway::Account')).toEqual({});
  });
});
