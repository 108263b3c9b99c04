#!/usr/bin/env node
// Prints the DynamoDB tables and SQS queues of the synthesized template as JSON, for the
// local stack to create in moto: the template stays the one source of truth.
//
//   npx tsx bin/local-resources.ts [-c key=value ...]    (from cdk/; no Rust build, ~5 s)
//
// Each resource comes with its CloudFormation properties and the environment variables
// (of any function) and stack outputs that name it; RedrivePolicy keeps its `Fn::GetAtt`
// on the dead-letter queue's logical id, which is listed among the queues.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { CrmErpStack, configFromContext, stackName } from '../lib/stack';

type Resource = { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string };
type Template = {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown }>;
};

function parseContext(args: string[]): Record<string, string> {
  const context: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const pair = args[i] === '-c' || args[i] === '--context' ? args[++i] : undefined;
    const eq = pair?.indexOf('=') ?? -1;
    if (!pair || eq < 1) throw new Error(`usage: local-resources [-c key=value ...], got ${args[i]}`);
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return context;
}

/** What refers to a logical id by `Ref`: function environment variables and outputs. */
function referrers(template: Template, logicalId: string) {
  const isRef = (v: unknown) => JSON.stringify(v) === JSON.stringify({ Ref: logicalId });
  const envVars = new Set<string>();
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const vars = (r.Properties?.Environment as { Variables?: Record<string, unknown> })?.Variables ?? {};
    for (const [name, value] of Object.entries(vars)) if (isRef(value)) envVars.add(name);
  }
  const outputs = Object.entries(template.Outputs ?? {})
    .filter(([, o]) => isRef(o.Value)).map(([name]) => name);
  return { envVars: [...envVars].sort(), outputs };
}

function main(): void {
  const cdkJson = JSON.parse(readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8'));
  const outdir = mkdtempSync(path.join(tmpdir(), 'crm-erp-local-'));
  try {
    const app = new App({
      outdir,
      context: { ...cdkJson.context, ...parseContext(process.argv.slice(2)) },
      // No `cargo lambda build`: only the template is needed.
      postCliContext: { 'aws:cdk:bundling-stacks': [] },
    });
    const config = configFromContext(app);
    const stack = new CrmErpStack(app, stackName(config.stage), config);
    const template = app.synth().getStackArtifact(stack.artifactId).template as Template;

    const pick = (type: string) => Object.entries(template.Resources)
      .filter(([, r]) => r.Type === type)
      .map(([logicalId, r]) => ({ logicalId, ...referrers(template, logicalId), properties: r.Properties ?? {} }));
    process.stdout.write(JSON.stringify({
      stack: stack.stackName,
      tables: pick('AWS::DynamoDB::Table'),
      queues: pick('AWS::SQS::Queue'),
    }, null, 2) + '\n');
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

main();
