import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { Alarms } from './alarms';
import { CrmErpMetrics, ERP_PROCESSOR_OUTCOMES, METRIC_PERIOD, STATUS_CLASSES } from './metrics';

export interface DashboardProps {
  readonly dashboardName: string;
  readonly metrics: CrmErpMetrics;
  readonly eventsQueue: sqs.IQueue;
  readonly deadLetters: sqs.IQueue;
  /** The metric the PendingEventsStale alarm watches: the dashboard shows the same one. */
  readonly oldestPendingEventAge: cloudwatch.Metric;
}

const WIDTH = 12; // two widgets a row (a dashboard is 24 wide)
const HEIGHT = 6;

/** A graph's line: lib/metrics.ts's metrics have no label (see CrmErpMetrics). */
const line = (metric: cloudwatch.Metric, label: string) => metric.with({ label });

/** A line at an alarm's threshold, so a graph shows how close it is to firing. */
const alarmLine = (value: number): cloudwatch.HorizontalAnnotation => ({ value, label: 'alarm' });

/**
 * One page for the path of an event, per stage: the API's traffic, the processor's outcomes
 * and its ERP calls, and where events wait (the queue, the dead letters, the outbox).
 */
export class Dashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: DashboardProps) {
    super(scope, id);
    const { metrics } = props;
    const graph = (title: string, p: Omit<cloudwatch.GraphWidgetProps, 'title' | 'width' | 'height'>) =>
      new cloudwatch.GraphWidget({ title, width: WIDTH, height: HEIGHT, ...p });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      widgets: [
        [
          graph('crm-api requests by status class', {
            left: STATUS_CLASSES.map(c => line(metrics.apiRequests(c), c)),
          }),
          graph('crm-api latency (ms)', {
            left: ['p50', 'p90', 'p99'].map(p => line(metrics.apiLatency(p), p)),
          }),
        ],
        [
          graph('erp-processor events by outcome', {
            left: ERP_PROCESSOR_OUTCOMES.map(o => line(metrics.processorEvents(o), o)),
          }),
          graph('ERP calls: latency (ms) and count', {
            left: ['p50', 'p99'].map(p => line(metrics.erpCallLatency(p), p)),
            right: [line(metrics.erpCalls(), 'calls')],
          }),
        ],
        [
          graph('ERP error rate', {
            left: [line(metrics.erpErrorRate(), 'ERP error rate (0-1)')],
            leftYAxis: { min: 0, max: 1 },
            leftAnnotations: [alarmLine(Alarms.ERP_ERROR_RATE_HIGH)],
          }),
          graph('Events queue: oldest message age (s)', {
            left: [props.eventsQueue.metricApproximateAgeOfOldestMessage({
              period: METRIC_PERIOD, statistic: 'Maximum', label: 'oldest message (s)',
            })],
            leftAnnotations: [alarmLine(Alarms.QUEUE_AGE_HIGH_SECONDS)],
          }),
        ],
        [
          graph('Dead-letter queue: messages visible', {
            left: [props.deadLetters.metricApproximateNumberOfMessagesVisible({
              period: METRIC_PERIOD, statistic: 'Maximum', label: 'dead letters',
            })],
          }),
          graph('Outbox: oldest pending event age (s)', {
            left: [line(props.oldestPendingEventAge, 'oldest pending event (s)')],
            leftAnnotations: [alarmLine(Alarms.STALE_PENDING_SECONDS)],
          }),
        ],
        [
          // One datum per reconciler run (hourly by default).
          graph('Drift: users whose ERP view differs from the CRM', {
            left: [
              line(metrics.driftedUsers(), 'drifted (alarmed)'),
              line(metrics.driftInFlight(), 'changed within the settling time'),
            ],
          }),
        ],
      ],
    });
  }
}
