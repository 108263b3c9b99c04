import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { skipCheckov } from './checkov';

interface KeyDefinition { readonly name: string; readonly type: 'S' | 'N' }
interface IndexDefinition {
  readonly name: string;
  readonly partitionKey: KeyDefinition;
  readonly sortKey?: KeyDefinition;
  readonly projection: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  readonly nonKeyAttributes?: string[];
}
interface TableDefinition { readonly partitionKey: KeyDefinition; readonly indexes: IndexDefinition[] }

/**
 * Keys and indexes of every table, in the one file the Rust tests create their tables from
 * too (functions/test-support), so a test table is the deployed table.
 */
export const TABLE_DEFINITIONS: {
  readonly Users: TableDefinition;
  readonly ErpProcessedUsers: TableDefinition;
  readonly ErpEmployees: TableDefinition;
} =
  JSON.parse(readFileSync(path.join(__dirname, 'tables.json'), 'utf8'));

const attribute = (key: KeyDefinition): dynamodb.Attribute => ({
  name: key.name,
  type: key.type === 'N' ? dynamodb.AttributeType.NUMBER : dynamodb.AttributeType.STRING,
});

const PROJECTIONS = {
  ALL: dynamodb.ProjectionType.ALL,
  KEYS_ONLY: dynamodb.ProjectionType.KEYS_ONLY,
  INCLUDE: dynamodb.ProjectionType.INCLUDE,
};

function addIndexes(table: dynamodb.Table, definition: TableDefinition): void {
  for (const index of definition.indexes) {
    table.addGlobalSecondaryIndex({
      indexName: index.name,
      partitionKey: attribute(index.partitionKey),
      sortKey: index.sortKey && attribute(index.sortKey),
      projectionType: PROJECTIONS[index.projection],
      nonKeyAttributes: index.nonKeyAttributes,
    });
  }
}

export interface TablesProps {
  /** What happens to the tables (and their data) when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /** Makes DynamoDB refuse DeleteTable, from any caller, until it is turned off. */
  readonly deletionProtection: boolean;
  /** Days of point-in-time recovery (continuous backups) each table keeps, 1 to 35. */
  readonly recoveryPeriodDays: number;
  /**
   * Gives Users a stream of each item's new and old images, which triggers outbox-relay
   * (context outboxDelivery=stream). Unset: no stream.
   */
  readonly usersStream?: boolean;
}

/**
 * The system's data of record. Attribute names and key types are the original system's
 * (see shared/reference/CONTRACT.md): existing data and dashboards rely on them.
 * Table names are generated; functions receive them through environment variables.
 */
export class Tables extends Construct {
  /**
   * CRM users, partition key `Id`, with the outbox index `PendingEvents`; with stream
   * delivery, a stream of new and old images (`tableStreamArn`) the relay reads.
   */
  readonly users: dynamodb.Table;
  /** Audit of processed ERP events, partition key `EventId`, index `ByUserId`. */
  readonly erpProcessedUsers: dynamodb.Table;
  /**
   * The ERP's view of each user, partition key `UserId`: the version its employee record
   * holds, and the lease that applies a user's events one at a time, in version order.
   * No name or email (see functions/user-sync/src/store/employees.rs).
   */
  readonly erpEmployees: dynamodb.Table;
  /** The CRM mirror's audit of processed events: the schema of `erpProcessedUsers`. */
  readonly mirrorProcessedEvents: dynamodb.Table;
  /** The CRM mirror's view of each user (its contact's version, the lease): `erpEmployees`'s schema. */
  readonly mirrorContacts: dynamodb.Table;

  /** The ERP audit table's index on `UserId`: a user's ERP records without a scan. */
  static readonly BY_USER_ID_INDEX = 'ByUserId';

  /**
   * The outbox's sparse index on `Users`: only a user with an event (created, updated,
   * deleted) not yet on the queue carries `Outbox` and `OutboxSince`, so the relay's query
   * reads exactly the pending events, oldest first (see functions/user-sync/src/store/users/).
   */
  static readonly PENDING_EVENTS_INDEX = 'PendingEvents';

  constructor(scope: Construct, id: string, props: TablesProps) {
    super(scope, id);
    const common = {
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Backups hold what the table held: a deleted user's name and email stay restorable
      // until the period has passed since their erasure, so the period bounds how long an
      // erasure takes to reach them. The same period for every table, so all of them can be
      // restored to one moment.
      pointInTimeRecoverySpecification: {
        pointInTimeRecoveryEnabled: true,
        recoveryPeriodInDays: props.recoveryPeriodDays,
      },
      removalPolicy: props.removalPolicy,
      deletionProtection: props.deletionProtection,
    };

    // PendingEvents: what the relay sends is projected; names and emails are inside the
    // event, as on the queue. ByUserId: keys only, since its readers (a deletion's erasure of
    // the user's audit records, an operator's lookup) need only each record's EventId; ALL
    // would copy every record's UserName and UserEmail (PII) into the index.
    // The stream is a deployment setting (context outboxDelivery), not in tables.json, which
    // holds the keys and indexes the Rust tests' tables share.
    this.users = new dynamodb.Table(this, 'Users', {
      ...common,
      partitionKey: attribute(TABLE_DEFINITIONS.Users.partitionKey),
      stream: props.usersStream ? dynamodb.StreamViewType.NEW_AND_OLD_IMAGES : undefined,
    });
    addIndexes(this.users, TABLE_DEFINITIONS.Users);

    this.erpProcessedUsers = new dynamodb.Table(this, 'ErpProcessedUsers', {
      ...common,
      partitionKey: attribute(TABLE_DEFINITIONS.ErpProcessedUsers.partitionKey),
    });
    addIndexes(this.erpProcessedUsers, TABLE_DEFINITIONS.ErpProcessedUsers);

    this.erpEmployees = new dynamodb.Table(this, 'ErpEmployees', {
      ...common,
      partitionKey: attribute(TABLE_DEFINITIONS.ErpEmployees.partitionKey),
    });
    addIndexes(this.erpEmployees, TABLE_DEFINITIONS.ErpEmployees);

    // The CRM mirror runs the ERP processor's core (functions/erp-processor/src/downstream.rs),
    // so its tables are the ERP side's, under names of their own.
    this.mirrorProcessedEvents = new dynamodb.Table(this, 'CrmMirrorProcessedEvents', {
      ...common,
      partitionKey: attribute(TABLE_DEFINITIONS.ErpProcessedUsers.partitionKey),
    });
    addIndexes(this.mirrorProcessedEvents, TABLE_DEFINITIONS.ErpProcessedUsers);

    this.mirrorContacts = new dynamodb.Table(this, 'CrmMirrorContacts', {
      ...common,
      partitionKey: attribute(TABLE_DEFINITIONS.ErpEmployees.partitionKey),
    });
    addIndexes(this.mirrorContacts, TABLE_DEFINITIONS.ErpEmployees);

    for (const table of [this.users, this.erpProcessedUsers, this.erpEmployees, this.mirrorProcessedEvents,
      this.mirrorContacts]) {
      skipCheckov(table, {
        CKV_AWS_119: 'Encrypted with the AWS managed key aws/dynamodb; access is granted per role on '
          + 'the table (lib/stack.ts), and a customer managed key would add a key policy and KMS costs.',
      });
    }
  }
}
