import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { Alarms } from './alarms';
import { Consumer, CrmErpMetrics, ERP_PROCESSOR_OUTCOMES, METRIC_PERIOD, SERVICE, STATUS_CLASSES } from './metrics';

export interface DashboardProps {
  readonly dashboardName: string;
  readonly metrics: CrmErpMetrics;
  /** The ERP's queue and dead-letter queue. */
  readonly eventsQueue: sqs.IQueue;
  readonly deadLetters: sqs.IQueue;
  /** The CRM mirror's. */
  readonly mirrorQueue: sqs.IQueue;
  readonly mirrorDeadLetters: sqs.IQueue;
  /** The metric the PendingEventsStale alarm watches: the dashboard shows the same one. */
  readonly oldestPendingEventAge: cloudwatch.Metric;
}

const WIDTH = 12; // two widgets a row (a dashboard is 24 wide)
const HEIGHT = 6;

/** A graph's line: lib/metrics.ts's metrics have no label (see CrmErpMetrics). */
const line = (metric: cloudwatch.Metric, label: string) => metric.with({ label });

/** A line at an alarm's threshold, so a graph shows how close it is to firing. */
const alarmLine = (value: number): cloudwatch.HorizontalAnnotation => ({ value, label: 'alarm' });

/** How the dashboard names one consumer's graphs. */
interface ConsumerGraphs {
  readonly service: Consumer;
  /** The system it calls: `ERP`, `CRM`. */
  readonly downstream: string;
  /** Its queue's graph's name: `Events queue`, `Mirror queue`. */
  readonly queue: string;
  /** Its dead-letter queue's: `Dead-letter queue`, `Mirror dead-letter queue`. */
  readonly deadLetters: string;
}

/**
 * One page for the path of an event, per stage: the API's traffic, each consumer's outcomes
 * and its downstream calls, and where events wait (the queues, the dead letters, the outbox).
 */
export class Dashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: DashboardProps) {
    super(scope, id);
    const { metrics } = props;
    const graph = (title: string, p: Omit<cloudwatch.GraphWidgetProps, 'title' | 'width' | 'height'>) =>
      new cloudwatch.GraphWidget({ title, width: WIDTH, height: HEIGHT, ...p });
    // Both consumers run one core: the same graphs, each of its own metrics and queues, at
    // the thresholds of their alarms (lib/alarms.ts gives both the same).
    const consumerRows = (c: ConsumerGraphs, queue: sqs.IQueue, deadLetters: sqs.IQueue) => [
      [
        graph(`${c.service} events by outcome`, {
          left: ERP_PROCESSOR_OUTCOMES.map(o => line(metrics.processorEvents(o, c.service), o)),
        }),
        graph(`${c.downstream} calls: latency (ms) and count`, {
          left: ['p50', 'p99'].map(p => line(metrics.erpCallLatency(p, c.service), p)),
          right: [line(metrics.erpCalls(c.service), 'calls')],
        }),
      ],
      [
        graph(`${c.downstream} error rate`, {
          left: [line(metrics.erpErrorRate(c.service), `${c.downstream} error rate (0-1)`)],
          leftYAxis: { min: 0, max: 1 },
          leftAnnotations: [alarmLine(Alarms.ERP_ERROR_RATE_HIGH)],
        }),
        graph(`${c.queue}: oldest message age (s)`, {
          left: [queue.metricApproximateAgeOfOldestMessage({
            period: METRIC_PERIOD, statistic: 'Maximum', label: 'oldest message (s)',
          })],
          leftAnnotations: [alarmLine(Alarms.QUEUE_AGE_HIGH_SECONDS)],
        }),
      ],
      [
        graph(`${c.deadLetters}: messages visible`, {
          left: [deadLetters.metricApproximateNumberOfMessagesVisible({
            period: METRIC_PERIOD, statistic: 'Maximum', label: 'dead letters',
          })],
        }),
      ],
    ];

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
        ...consumerRows({
          service: SERVICE.erpProcessor, downstream: 'ERP', queue: 'Events queue', deadLetters: 'Dead-letter queue',
        }, props.eventsQueue, props.deadLetters),
        ...consumerRows({
          service: SERVICE.crmMirror, downstream: 'CRM', queue: 'Mirror queue', deadLetters: 'Mirror dead-letter queue',
        }, props.mirrorQueue, props.mirrorDeadLetters),
        [
          graph('Outbox: oldest pending event age (s)', {
            left: [line(props.oldestPendingEventAge, 'oldest pending event (s)')],
            leftAnnotations: [alarmLine(Alarms.STALE_PENDING_SECONDS)],
          }),
          // One datum per reconciler run (hourly by default).
          graph('Drift: users whose views differ from the CRM', {
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
