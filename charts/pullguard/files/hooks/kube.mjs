// The one API call a hook makes, with the Pod's service account, and nothing else: node:https and
// the mounted token and CA, no client library (the hooks run in pullguard's image, outside its app).
// KUBERNETES_SERVICE_HOST/PORT are set by the kubelet; SERVICE_ACCOUNT_DIR only by the chart's tests.

import { readFileSync } from 'node:fs'
import { request } from 'node:https'

const ACCOUNT = process.env.SERVICE_ACCOUNT_DIR ?? '/var/run/secrets/kubernetes.io/serviceaccount'
// A hung API server must not hold `helm uninstall` or `helm test` until Helm's own timeout.
const TIMEOUT_MS = 10_000

/** One request to the API server; resolves to { status, body (parsed JSON or text), warnings }. */
export function call (method, path, body) {
  const host = process.env.KUBERNETES_SERVICE_HOST
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443'
  if (host === undefined) throw new Error('KUBERNETES_SERVICE_HOST is not set: not running in a Pod')
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = request({
      host: host.includes(':') ? `[${host}]` : host,
      port,
      path,
      method,
      ca: readFileSync(`${ACCOUNT}/ca.crt`),
      timeout: TIMEOUT_MS,
      headers: {
        authorization: `Bearer ${readFileSync(`${ACCOUNT}/token`, 'utf8').trim()}`,
        accept: 'application/json',
        ...(payload !== undefined && { 'content-type': 'application/json' })
      }
    }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { text += chunk })
      res.on('end', () => {
        let parsed = text
        try { parsed = JSON.parse(text) } catch { /* not JSON: keep the text */ }
        const warnings = [res.headers.warning ?? []].flat().join(', ')
        resolve({ status: res.statusCode ?? 0, body: parsed, warnings })
      })
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${TIMEOUT_MS} ms`)))
    req.on('error', reject)
    req.end(payload)
  })
}

/** The Status message of an error answer, or the text. */
export const messageOf = answer => typeof answer.body === 'object' && answer.body !== null ? String(answer.body.message ?? JSON.stringify(answer.body)) : String(answer.body)
