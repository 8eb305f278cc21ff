// A cluster for `helm template --dry-run=server`, so the chart's `lookup` calls meet real answers:
// the API double behind a loopback proxy that adds the bearer token (client-go sends no token over
// plain http, and the double answers 401 without one) and answers /version (helm asks for the
// server's version; the double serves no /version).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, request, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { ApiDouble } from '../../support/api-double.js'
import { helm, parseRendered, templateArgs, type RenderedObject, type RenderOptions } from './helm.js'

export interface HelmCluster {
  api: ApiDouble
  /** `helm template --dry-run=server` against the double; `upgrade` sets .Release.IsUpgrade */
  render (options: RenderOptions & { upgrade?: boolean }): Promise<RenderedObject[]>
}

export async function startHelmCluster (t: Test): Promise<HelmCluster> {
  const api = new ApiDouble()
  const started = await api.start()
  const token = started.kubeConfig().getCurrentUser()?.token ?? ''
  const proxy: Server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] === '/version') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ major: '1', minor: '33', gitVersion: 'v1.33.0', platform: 'linux/amd64' }))
      return
    }
    const upstream = request({ host: '127.0.0.1', port: started.port, path: req.url, method: req.method, headers: { ...req.headers, authorization: `Bearer ${token}` } }, answer => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    upstream.on('error', () => { res.writeHead(502).end() })
    req.pipe(upstream)
  })
  await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
  const address = proxy.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const dir = mkdtempSync(join(tmpdir(), 'pullguard-helm-cluster-'))
  const kubeconfig = join(dir, 'kubeconfig.yaml')
  writeFileSync(kubeconfig, [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: double, cluster: {server: "http://127.0.0.1:${port}"}}]`,
    'users: [{name: helm, user: {}}]',
    'contexts: [{name: double, context: {cluster: double, user: helm}}]',
    'current-context: double',
    ''
  ].join('\n'))
  t.teardown(async () => {
    await new Promise<void>(resolve => proxy.close(() => resolve()))
    proxy.closeAllConnections()
    await api.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    api,
    async render (options) {
      const args = templateArgs({ ...options, extraArgs: [...(options.extraArgs ?? []), '--dry-run=server', ...(options.upgrade === true ? ['--is-upgrade'] : [])] })
      const result = await helm(args, { env: { KUBECONFIG: kubeconfig } })
      if (result.status !== 0) throw new Error(`helm template --dry-run=server: ${result.stderr.trim()}`)
      return parseRendered(result.stdout)
    }
  }
}
