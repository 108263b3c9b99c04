#!/usr/bin/env node
// `npx cdk deploy` (from cdk/) runs this: one stack for the stage in context `stage`.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CrmErpStack, configFromContext, stackName } from '../lib/stack';

const app = new App();
// `-c bundle=false` synthesizes without building the functions (a template for cfn-lint or
// the local stack in seconds). Never deploy such an assembly: its code asset is the source.
if (String(app.node.tryGetContext('bundle')) === 'false') {
  app.node.setContext('aws:cdk:bundling-stacks', []);
}
const config = configFromContext(app);
new CrmErpStack(app, stackName(config.stage), {
  ...config,
  description: `CRM to ERP integration (${config.stage})`,
});
// cdk-nag runs as a validation plugin: any finding without an acknowledgement (and its
// reason, next to the construct it concerns) fails `cdk synth` and `cdk deploy`.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
