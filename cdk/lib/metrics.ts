import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/** The CloudWatch namespace of a stage's custom metrics: every function's `METRICS_NAMESPACE`. */
export function metricsNamespace(stage: string): string {
  return `CrmErp/${stage}`;
}

/** The `Service` dimension of every custom metric: the binary that emits it. */
export const SERVICE = {
  crmApi: 'crm-api',
  erpProcessor: 'erp-processor',
  crmMirror: 'crm-mirror',
  outboxRelay: 'outbox-relay',
  reconciler: 'reconciler',
} as const;

/** The consumers of the events topic, as their metrics' `Service` names them. */
export type Consumer = typeof SERVICE.erpProcessor | typeof SERVICE.crmMirror;

/** The `StatusClass` dimension of crm-api's `Requests`. */
export const STATUS_CLASSES = ['2xx', '4xx', '5xx'] as const;
export type StatusClass = typeof STATUS_CLASSES[number];

/** crm-api's metrics: a count per response, by status class, and each request's latency. */
export const CRM_API_REQUESTS = 'Requests';
export const CRM_API_LATENCY = 'Latency';

/** erp-processor's counts of its events' outcomes, one datum of each per invocation. */
export const ERP_PROCESSOR_OUTCOMES = [
  'EventsApplied',
  'EventsDuplicate',
  'EventsSuperseded',
  'EventsFailedPermanently',
  'EventsFailedTransiently',
] as const;
export type ErpProcessorOutcome = typeof ERP_PROCESSOR_OUTCOMES[number];

/** erp-processor's metrics of each ERP call: its latency, and 1 if it failed, 0 if not. */
export const ERP_CALL_LATENCY = 'ErpCallLatency';
export const ERP_CALL_FAILED = 'ErpCallFailed';

/** outbox-relay's metric of the oldest pending event, each run (see functions/outbox-relay/src/metrics.rs). */
export const OLDEST_PENDING_EVENT_AGE = 'OldestPendingEventAgeSeconds';

/**
 * reconciler's counts each run (see functions/reconciler/src/metrics.rs): drifted users
 * changed before the settling time, and those changed within it.
 */
export const DRIFTED_USERS = 'DriftedUsers';
export const DRIFT_IN_FLIGHT = 'DriftInFlight';

/** The dashboard's resolution; alarms take a metric `with` their own period. */
export const METRIC_PERIOD = Duration.minutes(1);

/**
 * The custom metrics the functions emit, by the exact names and dimensions the Rust code
 * publishes them with: the dashboard and the alarms both read them from here, so a name
 * changes in one place (and in the function's metrics code). No metric has a label: CDK
 * renders an alarm on a labelled metric as metric math (Metrics), which the local emulator
 * rejects; the dashboard labels its lines itself.
 */
export class CrmErpMetrics {
  constructor(readonly namespace: string) {}

  /** crm-api's responses of one status class. */
  apiRequests(statusClass: StatusClass): cloudwatch.Metric {
    return this.metric(CRM_API_REQUESTS, { Service: SERVICE.crmApi, StatusClass: statusClass }, 'Sum');
  }

  /** crm-api's request latency at a percentile (`p50`, `p90`, `p99`). */
  apiLatency(percentile: string): cloudwatch.Metric {
    return this.metric(CRM_API_LATENCY, { Service: SERVICE.crmApi }, percentile, cloudwatch.Unit.MILLISECONDS);
  }

  /**
   * A consumer's events with one outcome: erp-processor's by default, crm-mirror's with its
   * `Service` (both run one core, so they publish the same metrics).
   */
  processorEvents(outcome: ErpProcessorOutcome, service: Consumer = SERVICE.erpProcessor): cloudwatch.Metric {
    return this.metric(outcome, { Service: service }, 'Sum');
  }

  /** The latency of a consumer's downstream (the ERP, the CRM) as it sees it, at a percentile. */
  erpCallLatency(percentile: string, service: Consumer = SERVICE.erpProcessor): cloudwatch.Metric {
    return this.metric(ERP_CALL_LATENCY, { Service: service }, percentile, cloudwatch.Unit.MILLISECONDS);
  }

  /** A consumer's downstream calls made: one latency datum each. */
  erpCalls(service: Consumer = SERVICE.erpProcessor): cloudwatch.Metric {
    return this.metric(ERP_CALL_LATENCY, { Service: service }, 'SampleCount');
  }

  /**
   * The share of a consumer's downstream calls that failed (0-1): each call emits one datum,
   * 1 if it failed and 0 if not, so their average is the error rate, with no metric math.
   */
  erpErrorRate(service: Consumer = SERVICE.erpProcessor): cloudwatch.Metric {
    return this.metric(ERP_CALL_FAILED, { Service: service }, 'Average');
  }

  /** Age of the oldest event outbox-relay found pending, as it reports each run. */
  oldestPendingEventAge(): cloudwatch.Metric {
    return this.metric(OLDEST_PENDING_EVENT_AGE, { Service: SERVICE.outboxRelay }, 'Maximum');
  }

  /**
   * Users whose downstream view drifted from the CRM (changed longer ago than the settling
   * time), as reconciler counts them each run.
   */
  driftedUsers(): cloudwatch.Metric {
    return this.metric(DRIFTED_USERS, { Service: SERVICE.reconciler }, 'Maximum');
  }

  /** Drifted users changed within the settling time: their events may be on their way. */
  driftInFlight(): cloudwatch.Metric {
    return this.metric(DRIFT_IN_FLIGHT, { Service: SERVICE.reconciler }, 'Maximum');
  }

  private metric(
    metricName: string, dimensionsMap: Record<string, string>, statistic: string, unit?: cloudwatch.Unit,
  ): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace, metricName, dimensionsMap, statistic, unit, period: METRIC_PERIOD,
    });
  }
}
