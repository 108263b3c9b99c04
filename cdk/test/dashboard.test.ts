import { Template } from 'aws-cdk-lib/assertions';
import { CrmErpStack } from '../lib/stack';
import { metricsNamespace } from '../lib/metrics';
import { logicalId, testStack } from './helpers';

type Widget = {
  type: string;
  properties: {
    title: string;
    metrics: unknown[][];
    yAxis?: { left?: { min?: number; max?: number } };
    annotations?: { horizontal?: { value: number; label?: string; yAxis?: string }[] };
  };
};

/**
 * A dashboard's widgets, its body parsed. The body is a Fn::Join: each token in it (the
 * region, a queue's name) becomes `Ref:Id` or `GetAtt:Id.Attribute`.
 */
function widgetsOf(stack: CrmErpStack): Widget[] {
  const dashboard = Template.fromStack(stack).toJSON().Resources[logicalId(stack.dashboard.dashboard)];
  const [, parts] = dashboard.Properties.DashboardBody['Fn::Join'] as [string, unknown[]];
  const body = parts.map(p => {
    if (typeof p === 'string') return p;
    const token = p as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
    if (token.Ref) return `Ref:${token.Ref}`;
    if (token['Fn::GetAtt']) return `GetAtt:${token['Fn::GetAtt'].join('.')}`;
    throw new Error(`unexpected token ${JSON.stringify(p)}`);
  }).join('');
  return JSON.parse(body).widgets;
}

describe('dashboard', () => {
  const stack = testStack();
  const resources = Template.fromStack(stack).toJSON().Resources;
  const widgets = widgetsOf(stack);
  const widget = (title: string) => {
    const found = widgets.filter(w => w.properties.title === title);
    expect(found).toHaveLength(1);
    return found[0].properties;
  };
  const ns = 'CrmErp/dev';
  const api = ['Service', 'crm-api'];
  const queueName = (q: typeof stack.events.queue) => `GetAtt:${logicalId(q)}.QueueName`;

  test('is named after the stage, CrmErp-<stage>', () => {
    expect(resources[logicalId(stack.dashboard.dashboard)].Properties.DashboardName).toBe('CrmErp-dev');
    const prod = testStack({ stage: 'prod' });
    expect(Template.fromStack(prod).toJSON().Resources[logicalId(prod.dashboard.dashboard)]
      .Properties.DashboardName).toBe('CrmErp-prod');
  });

  test('shows these graphs, and nothing else', () => {
    expect(widgets.map(w => [w.type, w.properties.title])).toEqual([
      ['metric', 'crm-api requests by status class'],
      ['metric', 'crm-api latency (ms)'],
      ['metric', 'erp-processor events by outcome'],
      ['metric', 'ERP calls: latency (ms) and count'],
      ['metric', 'ERP error rate'],
      ['metric', 'Events queue: oldest message age (s)'],
      ['metric', 'Dead-letter queue: messages visible'],
      ['metric', 'crm-mirror events by outcome'],
      ['metric', 'CRM calls: latency (ms) and count'],
      ['metric', 'CRM error rate'],
      ['metric', 'Mirror queue: oldest message age (s)'],
      ['metric', 'Mirror dead-letter queue: messages visible'],
      ['metric', 'Outbox: oldest pending event age (s)'],
      ['metric', 'Drift: users whose views differ from the CRM'],
    ]);
  });

  test('crm-api: requests by status class, summed', () => {
    expect(widget('crm-api requests by status class').metrics).toEqual(['2xx', '4xx', '5xx'].map(c =>
      [ns, 'Requests', ...api, 'StatusClass', c, { label: c, period: 60, stat: 'Sum' }]));
  });

  test('crm-api: latency at p50, p90 and p99', () => {
    expect(widget('crm-api latency (ms)').metrics).toEqual(['p50', 'p90', 'p99'].map(p =>
      [ns, 'Latency', ...api, { label: p, period: 60, stat: p }]));
  });

  // Both consumers' graphs: the same builder, each of its own Service and queues.
  describe.each([
    { service: 'erp-processor', downstream: 'ERP', queue: 'Events queue', deadLetters: 'Dead-letter queue',
      queues: () => stack.events },
    { service: 'crm-mirror', downstream: 'CRM', queue: 'Mirror queue', deadLetters: 'Mirror dead-letter queue',
      queues: () => stack.mirrorEvents },
  ])('$service', ({ service, downstream, queue, deadLetters, queues }) => {
    const of = ['Service', service];

    test('each outcome of its events, summed', () => {
      expect(widget(`${service} events by outcome`).metrics).toEqual([
        'EventsApplied', 'EventsDuplicate', 'EventsSuperseded', 'EventsFailedPermanently', 'EventsFailedTransiently',
      ].map(m => [ns, m, ...of, { label: m, period: 60, stat: 'Sum' }]));
    });

    test('its downstream\'s call latency at p50 and p99, and the calls (its sample count)', () => {
      expect(widget(`${downstream} calls: latency (ms) and count`).metrics).toEqual([
        [ns, 'ErpCallLatency', ...of, { label: 'p50', period: 60, stat: 'p50' }],
        [ns, 'ErpCallLatency', ...of, { label: 'p99', period: 60, stat: 'p99' }],
        [ns, 'ErpCallLatency', ...of, { label: 'calls', period: 60, stat: 'SampleCount', yAxis: 'right' }],
      ]);
    });

    test('the error rate, the average of ErpCallFailed, from 0 to 1, with the alarm\'s line', () => {
      const w = widget(`${downstream} error rate`);
      // Average is a graph's default statistic: CDK writes no `stat` for it.
      expect(w.metrics).toEqual([
        [ns, 'ErpCallFailed', ...of, { label: `${downstream} error rate (0-1)`, period: 60 }],
      ]);
      expect(w.yAxis?.left).toEqual({ min: 0, max: 1 });
      expect(w.annotations?.horizontal).toEqual([{ value: 0.1, label: 'alarm', yAxis: 'left' }]);
    });

    test('its queue\'s oldest message and its dead letters, at their maximum', () => {
      const age = widget(`${queue}: oldest message age (s)`);
      expect(age.metrics).toEqual([['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName',
        queueName(queues().queue), { label: 'oldest message (s)', period: 60, stat: 'Maximum' }]]);
      expect(age.annotations?.horizontal).toEqual([{ value: 600, label: 'alarm', yAxis: 'left' }]);
      expect(widget(`${deadLetters}: messages visible`).metrics).toEqual([['AWS/SQS',
        'ApproximateNumberOfMessagesVisible', 'QueueName', queueName(queues().deadLetters),
        { label: 'dead letters', period: 60, stat: 'Maximum' }]]);
    });
  });

  test('the outbox\'s oldest pending event: the metric the PendingEventsStale alarm watches', () => {
    const w = widget('Outbox: oldest pending event age (s)');
    expect(w.metrics).toEqual([[ns, 'OldestPendingEventAgeSeconds', 'Service', 'outbox-relay',
      { label: 'oldest pending event (s)', period: 60, stat: 'Maximum' }]]);
    expect(w.annotations?.horizontal).toEqual([{ value: 300, label: 'alarm', yAxis: 'left' }]);
    expect(resources[logicalId(stack.alarms.pendingEventsStale)].Properties).toMatchObject({
      Namespace: ns, MetricName: 'OldestPendingEventAgeSeconds', Statistic: 'Maximum',
    });
  });

  test('the reconciler\'s drift: what DriftFound watches, and what is in flight', () => {
    const reconciler = ['Service', 'reconciler'];
    expect(widget('Drift: users whose views differ from the CRM').metrics).toEqual([
      [ns, 'DriftedUsers', ...reconciler, { label: 'drifted (alarmed)', period: 60, stat: 'Maximum' }],
      [ns, 'DriftInFlight', ...reconciler,
        { label: 'changed within the settling time', period: 60, stat: 'Maximum' }],
    ]);
  });

  test.each([
    ['ERP error rate', () => stack.alarms.erpErrorRateHigh],
    ['CRM error rate', () => stack.alarms.mirrorErrorRateHigh],
  ])('the error-rate alarm watches the metric the dashboard graphs: %s', (title, alarm) => {
    const [graphed] = widget(title).metrics;
    const watched = resources[logicalId(alarm())].Properties;
    expect(watched.Statistic).toBe('Average');
    expect([watched.Namespace, watched.MetricName, ...watched.Dimensions.flatMap(
      (d: { Name: string; Value: string }) => [d.Name, d.Value])]).toEqual(graphed.slice(0, -1));
  });

  test('every custom metric is in the stage\'s namespace, every metric at 1-minute resolution', () => {
    const prod = widgetsOf(testStack({ stage: 'prod' })).flatMap(w => w.properties.metrics);
    expect(metricsNamespace('prod')).toBe('CrmErp/prod');
    expect(new Set(prod.map(m => m[0]))).toEqual(new Set(['CrmErp/prod', 'AWS/SQS']));
    for (const m of prod) {
      expect(m[m.length - 1]).toMatchObject({ period: 60 });
    }
  });
});
