import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { skipCheckov } from './checkov';

export interface TablesProps {
  /** What happens to the tables (and their data) when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /** Makes DynamoDB refuse DeleteTable, from any caller, until it is turned off. */
  readonly deletionProtection: boolean;
}

/**
 * The system's data of record. Attribute names and key types are the original system's
 * (see shared/reference/CONTRACT.md): existing data and dashboards rely on them.
 * Table names are generated; functions receive them through environment variables.
 */
export class Tables extends Construct {
  /** CRM users, partition key `Id`, with the outbox index `PendingEvents`. */
  readonly users: dynamodb.Table;
  /** Audit of processed ERP events, partition key `EventId`, index `ByUserId`. */
  readonly erpProcessedUsers: dynamodb.Table;

  /** The ERP audit table's index on `UserId`: a user's ERP records without a scan. */
  static readonly BY_USER_ID_INDEX = 'ByUserId';

  /**
   * The outbox's sparse index on `Users`: only a user whose `UserCreated` event is not yet
   * on the queue carries `Outbox` and `OutboxSince`, so the relay's query reads exactly the
   * pending events, oldest first (see functions/integration/src/store/outbox.rs).
   */
  static readonly PENDING_EVENTS_INDEX = 'PendingEvents';

  constructor(scope: Construct, id: string, props: TablesProps) {
    super(scope, id);
    const common = {
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy,
      deletionProtection: props.deletionProtection,
    };

    this.users = new dynamodb.Table(this, 'Users', {
      ...common,
      partitionKey: { name: 'Id', type: dynamodb.AttributeType.STRING },
    });
    this.users.addGlobalSecondaryIndex({
      indexName: Tables.PENDING_EVENTS_INDEX,
      partitionKey: { name: 'Outbox', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'OutboxSince', type: dynamodb.AttributeType.NUMBER },
      // What the relay sends; names and emails are inside the event, as on the queue.
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: ['OutboxEventId', 'OutboxEvent', 'OutboxCorrelationId'],
    });

    this.erpProcessedUsers = new dynamodb.Table(this, 'ErpProcessedUsers', {
      ...common,
      partitionKey: { name: 'EventId', type: dynamodb.AttributeType.STRING },
    });
    this.erpProcessedUsers.addGlobalSecondaryIndex({
      indexName: Tables.BY_USER_ID_INDEX,
      partitionKey: { name: 'UserId', type: dynamodb.AttributeType.STRING },
      // Keys only: no code reads this index (the functions get a record by EventId; the
      // tests and the e2e suite scan), so it serves an operator's lookup of a user's records,
      // which needs only each record's EventId (a GetItem on the table reads the rest). ALL
      // would copy every record's UserName and UserEmail (PII) into the index.
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });

    for (const table of [this.users, this.erpProcessedUsers]) {
      skipCheckov(table, {
        CKV_AWS_119: 'Encrypted with the AWS managed key aws/dynamodb; access is granted per role on '
          + 'the table (lib/stack.ts), and a customer managed key would add a key policy and KMS costs.',
      });
    }
  }
}
