// The chart's alerts and dashboard query only what pullguard exports. The registries are the ones the
// code builds (createMetrics for the server, a LiveClusterView with leader election for live mode);
// every PromQL expression of the rendered PrometheusRule and of files/grafana/pullguard.json is parsed
// with Prometheus's own grammar (@prometheus-io/lezer-promql), and each metric and label it names must
// exist there.

import * as k8s from '@kubernetes/client-node'
import { parser } from '@prometheus-io/lezer-promql'
import type { Metric } from 'prom-client'
import t, { type Test } from 'tap'
import { DEFAULT_ADMISSION_OPTIONS } from '../../src/admission/options.js'
import { LiveClusterView } from '../../src/cluster/live/live-view.js'
import { createMetrics } from '../../src/server/metrics.js'
import { captureLog } from '../server/log-capture.js'
import { readJson } from './support/repo.js'
import { one, render } from './support/helm.js'

/** labels every scraped series gets from its target (prometheus-operator's ServiceMonitor) */
const TARGET_LABELS = ['job', 'namespace', 'pod', 'instance', 'service', 'container', 'endpoint']
/** series Prometheus makes itself for each target */
const SYNTHETIC: Record<string, string[]> = { up: [] }

/** every series name the code's registries expose, with its label names */
function exportedSeries (): Map<string, string[]> {
  const metrics = createMetrics({ defaultMetrics: true })
  const kubeConfig = new k8s.KubeConfig()
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'none', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'none' }],
    contexts: [{ name: 'none', cluster: 'none', user: 'none' }],
    currentContext: 'none'
  })
  // constructed, never started: it registers live mode's metrics and the leader elector's gauges
  void new LiveClusterView({
    kubeConfig,
    options: DEFAULT_ADMISSION_OPTIONS,
    logger: captureLog().logger,
    registry: metrics.registry,
    resyncSeconds: 600,
    leaderElection: { namespace: 'pullguard-system', leaseName: 'pullguard', identity: 'x', leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 }
  })
  const series = new Map<string, string[]>()
  for (const metric of metrics.registry.getMetricsAsArray() as unknown as Array<Metric & { name: string, labelNames?: string[], constructor: { name: string } }>) {
    const labels = metric.labelNames ?? []
    if (metric.constructor.name === 'Histogram') {
      series.set(`${metric.name}_bucket`, [...labels, 'le'])
      series.set(`${metric.name}_sum`, labels)
      series.set(`${metric.name}_count`, labels)
    } else {
      series.set(metric.name, labels)
    }
  }
  return series
}

interface Selector { metric: string, labels: string[] }

/** the vector selectors of an expression: metric names and the label names they match on */
function selectorsOf (expr: string): { selectors: Selector[], errors: number } {
  const tree = parser.parse(expr)
  const selectors: Selector[] = []
  let errors = 0
  tree.iterate({
    enter: node => {
      if (node.type.isError) errors++
      if (node.name !== 'VectorSelector') return
      const metric = node.node.getChild('Identifier')
      const matchers = node.node.getChild('LabelMatchers')
      const labels = matchers === null ? [] : matchers.getChildren('UnquotedLabelMatcher').map(m => {
        const name = m.getChild('LabelName')
        return name === null ? '' : expr.slice(name.from, name.to)
      })
      selectors.push({ metric: metric === null ? '' : expr.slice(metric.from, metric.to), labels })
    }
  })
  return { selectors, errors }
}

const exported = exportedSeries()
const known = new Map<string, string[]>([...exported, ...Object.entries(SYNTHETIC)])

function checkExpression (t: Test, where: string, expr: string): string[] {
  const { selectors, errors } = selectorsOf(expr)
  t.equal(errors, 0, `${where}: valid PromQL`, { expr })
  t.ok(selectors.length > 0, `${where}: selects something`)
  for (const { metric, labels } of selectors) {
    const metricLabels = known.get(metric)
    t.ok(metricLabels, `${where}: ${metric} is exported by pullguard`, { expr })
    for (const label of labels) {
      t.ok([...(metricLabels ?? []), ...TARGET_LABELS].includes(label), `${where}: ${metric} has the label ${label}`)
    }
  }
  return selectors.map(s => s.metric)
}

t.test('the registries are the code\'s', async t => {
  for (const name of ['pullguard_admission_requests_total', 'pullguard_admission_duration_seconds_bucket', 'pullguard_tls_certificate_expiry_timestamp_seconds',
    'pullguard_cache_age_seconds', 'pullguard_reconcile_total', 'pullguard_leader', 'pullguard_credential_source_problems', 'process_resident_memory_bytes']) {
    t.ok(exported.has(name), `${name} is registered`)
  }
})

t.test('every alert of the PrometheusRule queries exported metrics', async t => {
  const rule = one(await render({ valuesFiles: ['charts/pullguard/ci/observability-values.yaml'], noHooks: true }), 'PrometheusRule')
  const rules = (rule.spec as { groups: Array<{ rules: Array<{ alert: string, expr: string, labels: { severity: string }, annotations: { summary: string } }> }> }).groups.flatMap(g => g.rules)
  const used = new Set<string>()
  for (const alert of rules) {
    for (const metric of checkExpression(t, alert.alert, alert.expr)) used.add(metric)
    t.match(alert.labels.severity, /^(critical|warning|info)$/, `${alert.alert}: a severity`)
    t.ok(alert.annotations.summary, `${alert.alert}: a summary`)
    t.match(alert.expr, /job="pullguard",namespace="pullguard-system"/, `${alert.alert}: this release's series only`)
  }
  // what the issue asks alerts for
  for (const metric of ['pullguard_tls_certificate_expiry_timestamp_seconds', 'pullguard_cache_age_seconds', 'pullguard_reconcile_total',
    'pullguard_credential_source_problems', 'pullguard_admission_requests_total', 'pullguard_admission_duration_seconds_bucket', 'pullguard_leader']) {
    t.ok(used.has(metric), `an alert on ${metric}`)
  }
  const single = one(await render({ valuesFiles: ['charts/pullguard/ci/single-replica-values.yaml'], set: { 'metrics.prometheusRule.enabled': true }, noHooks: true }), 'PrometheusRule')
  t.notMatch(JSON.stringify(single.spec), /PullguardNoLeader/, 'no leader alert without leader election')
})

t.test('every panel of the dashboard queries exported metrics', async t => {
  interface Panel { title: string, targets: Array<{ expr: string }> }
  const dashboard = readJson<{ uid: string, panels: Panel[], templating: { list: Array<{ name: string, query: string | { query: string } }> } }>('charts/pullguard/files/grafana/pullguard.json')
  t.ok(dashboard.panels.length >= 8, `${dashboard.panels.length} panels`)
  for (const panel of dashboard.panels) {
    for (const target of panel.targets) checkExpression(t, `panel "${panel.title}"`, target.expr)
  }
  for (const variable of dashboard.templating.list) {
    const query = typeof variable.query === 'string' ? variable.query : variable.query.query
    const inner = /^label_values\((.+), \w+\)$/.exec(query)?.[1]
    if (inner !== undefined) checkExpression(t, `variable ${variable.name}`, inner)
  }
  const configMap = one(await render({ valuesFiles: ['charts/pullguard/ci/observability-values.yaml'], noHooks: true }), 'ConfigMap', 'pullguard-dashboard')
  t.same(JSON.parse((configMap as unknown as { data: Record<string, string> }).data['pullguard.json'] ?? ''), dashboard, 'the ConfigMap carries the file as it is')
  t.equal(configMap.metadata.labels?.grafana_dashboard, '1', 'labelled for the Grafana sidecar')
})
