import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** The template metadata key checkov reads its per-resource suppressions from. */
export const CHECKOV_METADATA_KEY = 'checkov';

interface CheckovSkip {
  readonly id: string;
  readonly comment: string;
}

/**
 * Skips checkov checks on a construct's resource, each with the reason it does not apply
 * (scripts/checkov fails on any other finding). Adds to the skips already there.
 */
export function skipCheckov(construct: IConstruct, skips: Record<string, string>): void {
  const resource = (construct.node.defaultChild ?? construct) as CfnResource;
  const existing: CheckovSkip[] = resource.getMetadata(CHECKOV_METADATA_KEY)?.skip ?? [];
  const added = Object.entries(skips).map(([id, comment]) => ({ id, comment }));
  resource.addMetadata(CHECKOV_METADATA_KEY, { skip: [...existing, ...added] });
}
