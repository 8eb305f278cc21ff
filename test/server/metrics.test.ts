import t from 'tap'
import { Gauge } from 'prom-client'
import { createMetrics, startMetricsServer } from '../../src/server/metrics.js'
import { captureLog } from './log-capture.js'

t.test('a private registry with the admission metrics', async t => {
  const metrics = createMetrics({ defaultMetrics: false })
  metrics.admissionRequests.inc({ operation: 'CREATE', result: 'patched' })
  metrics.admissionDuration.observe({ operation: 'CREATE' }, 0.0021)
  const text = await metrics.registry.metrics()
  t.match(text, /pullguard_admission_requests_total\{operation="CREATE",result="patched"\} 1/)
  t.match(text, /pullguard_admission_duration_seconds_bucket\{le="0.0025",operation="CREATE"\} 1/)
  t.match(text, /pullguard_admission_duration_seconds_bucket\{le="0.001",operation="CREATE"\} 0/)
  t.notMatch(text, /process_cpu/, 'default metrics only when asked')

  // Two instances in one process do not collide (prom-client's global registry would throw).
  const other = createMetrics({ defaultMetrics: false })
  t.not(other.registry, metrics.registry)
})

t.test('default process metrics and metrics added by other modules', async t => {
  const metrics = createMetrics()
  const depth = new Gauge({ name: 'pullguard_reconcile_queue_depth', help: 'queued', registers: [metrics.registry] })
  depth.set(3)
  const text = await metrics.registry.metrics()
  t.match(text, /process_cpu_user_seconds_total/)
  t.match(text, /nodejs_eventloop_lag_seconds/)
  t.match(text, /pullguard_reconcile_queue_depth 3/)
})

t.test('GET /metrics over plain HTTP; 404 elsewhere', async t => {
  const metrics = createMetrics({ defaultMetrics: false })
  metrics.admissionRequests.inc({ operation: 'DELETE', result: 'allowed' })
  const { logger } = captureLog()
  const server = await startMetricsServer({ registry: metrics.registry, host: '127.0.0.1', port: 0, logger })
  t.teardown(() => server.close())
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
  t.not(server.port, 0)

  const res = await fetch(`${server.url}?name[]=x`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  t.match(await res.text(), /pullguard_admission_requests_total\{operation="DELETE",result="allowed"\} 1/)

  for (const path of ['/', '/metricsx', '/healthz']) {
    const other = await fetch(new URL(path, server.url))
    t.equal(other.status, 404, path)
    await other.arrayBuffer()
  }
  const post = await fetch(server.url, { method: 'POST', body: 'x' })
  t.equal(post.status, 404, 'POST')
  await post.arrayBuffer()
})
