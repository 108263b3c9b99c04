import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { IConstruct } from 'constructs';
import { BATCH_CONCURRENCY, RECONCILE_SCHEDULE_MINUTES } from '../lib/functions';
import {
  CrmErpStack, CrmErpStackProps, DEFAULT_MAX_CONCURRENCY, DEFAULT_RECOVERY_PERIOD_DAYS,
} from '../lib/stack';

/** cdk.json's feature flags, so tests synthesize what `cdk synth` does. */
const cdkJsonContext: Record<string, unknown> = JSON.parse(
  readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8'),
).context;

/** An App that never runs `cargo lambda build`: templates in milliseconds, no Rust needed. */
export function testApp(context: Record<string, unknown> = {}): App {
  return new App({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [], ...context } });
}

/** A stack with bin/app.ts's defaults; `overrides` changes what a test is about. */
export function testStack(overrides: Partial<CrmErpStackProps> = {}, app = testApp()): CrmErpStack {
  return new CrmErpStack(app, 'Test', {
    stage: 'dev',
    architecture: lambda.Architecture.ARM_64,
    maxConcurrency: DEFAULT_MAX_CONCURRENCY,
    batchConcurrency: BATCH_CONCURRENCY,
    recoveryPeriodDays: DEFAULT_RECOVERY_PERIOD_DAYS,
    reconcileMinutes: RECONCILE_SCHEDULE_MINUTES,
    ...overrides,
  });
}

export function templateOf(overrides: Partial<CrmErpStackProps> = {}): Template {
  return Template.fromStack(testStack(overrides));
}

/** The logical id CloudFormation knows a construct's resource by (computed, never pasted). */
export function logicalId(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(construct).resolve(element.logicalId);
}

/** `{ Ref }` and `{ Fn::GetAtt: [.., Arn] }` of a construct's resource. */
export const ref = (c: IConstruct) => ({ Ref: logicalId(c) });
export const arnOf = (c: IConstruct) => ({ 'Fn::GetAtt': [logicalId(c), 'Arn'] });
