import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

export interface TablesProps {
  /** What happens to the tables (and their data) when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
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
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}
