// How live mode reaches the API server: which kubeconfig (the order kubectl uses), per-call timeouts
// (client-node's typed calls have none), list pages as plain JSON, and reading the errors it throws
// without leaking bodies.

import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'
import * as k8s from '@kubernetes/client-node'

export type KubeConfigSource = 'flag' | 'KUBECONFIG' | '~/.kube/config' | 'in-cluster'

export interface LoadedKubeConfig {
  kubeConfig: k8s.KubeConfig
  source: KubeConfigSource
  /** the API server URL, for the start-up log */
  server: string
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token'

export interface KubeConfigLookup {
  /** `--kubeconfig`: wins over everything else */
  file?: string
  env?: NodeJS.ProcessEnv
  home?: string
  /** where the in-cluster token would be mounted (tests point it elsewhere) */
  serviceAccountToken?: string
}

/**
 * `--kubeconfig`, else KUBECONFIG (a path list, merged), else ~/.kube/config, else the in-cluster
 * service account: the order kubectl uses. Unlike client-node's loadFromDefault, never falls back to
 * an unauthenticated http://localhost:8080, which would only fail later and less clearly.
 */
export function loadKubeConfig (lookup: KubeConfigLookup = {}): LoadedKubeConfig {
  const env = lookup.env ?? process.env
  const kubeConfig = new k8s.KubeConfig()
  let source: KubeConfigSource
  if (lookup.file !== undefined) {
    loadFile(kubeConfig, lookup.file)
    source = 'flag'
  } else if (env.KUBECONFIG !== undefined && env.KUBECONFIG !== '') {
    loadPathList(kubeConfig, env.KUBECONFIG)
    source = 'KUBECONFIG'
  } else if (existsSync(join(lookup.home ?? homedir(), '.kube', 'config'))) {
    loadFile(kubeConfig, join(lookup.home ?? homedir(), '.kube', 'config'))
    source = '~/.kube/config'
  } else if (env.KUBERNETES_SERVICE_HOST !== undefined && existsSync(lookup.serviceAccountToken ?? SERVICE_ACCOUNT_TOKEN)) {
    kubeConfig.loadFromCluster()
    source = 'in-cluster'
  } else {
    throw new Error('no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run in a Pod with a service account')
  }
  const cluster = kubeConfig.getCurrentCluster()
  if (cluster === null) throw new Error(`kubeconfig (${source}) has no current context with a cluster`)
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    // client-node refuses plain http unless told to skip TLS checks; say so now, not per request.
    throw new Error(`cluster ${cluster.name} uses plain http (${cluster.server}); set insecure-skip-tls-verify: true on it to allow that`)
  }
  return { kubeConfig, source, server: cluster.server }
}

// KUBECONFIG is a path list merged in order. As in kubectl, the first file naming a current context
// wins, and so does the first definition of a cluster, user or context name (client-node would throw).
function loadPathList (kubeConfig: k8s.KubeConfig, list: string): void {
  const [first, ...rest] = list.split(delimiter).filter(file => file !== '')
  if (first === undefined) return
  loadFile(kubeConfig, first)
  for (const file of rest) {
    const more = new k8s.KubeConfig()
    loadFile(more, file)
    const unseen = <T extends { name: string }>(mine: T[], theirs: T[]): T[] => theirs.filter(x => !mine.some(y => y.name === x.name))
    const novel = new k8s.KubeConfig()
    novel.loadFromOptions({
      clusters: unseen(kubeConfig.getClusters(), more.getClusters()),
      users: unseen(kubeConfig.getUsers(), more.getUsers()),
      contexts: unseen(kubeConfig.getContexts(), more.getContexts()),
      currentContext: more.getCurrentContext()
    })
    kubeConfig.mergeConfig(novel, Boolean(kubeConfig.getCurrentContext()))
  }
}

/** loadFromFile, with errors that name the file but never quote it: a kubeconfig holds tokens and keys */
function loadFile (kubeConfig: k8s.KubeConfig, file: string): void {
  try {
    kubeConfig.loadFromFile(file)
  } catch (err) {
    const { code, reason, mark } = err as { code?: string, reason?: string, mark?: { line?: number } }
    if (code !== undefined) throw new Error(`kubeconfig ${file}: cannot read (${code})`)
    // js-yaml's message carries a snippet of the offending lines; its reason and line do not
    if (reason !== undefined) throw new Error(`kubeconfig ${file}: invalid YAML (${reason}${mark?.line !== undefined ? ` at line ${mark.line + 1}` : ''})`)
    throw new Error(`kubeconfig ${file}: ${(err as Error).message}`)
  }
}

/**
 * Options for one typed call that abort it with the signal: the client has no timeout of its own,
 * so a hung API server would hang the caller. The middleware must return Observables (a plain
 * Promise crashes the client) and is appended so authentication still runs.
 */
export function callOptions (signal: AbortSignal): k8s.ConfigurationOptions {
  return {
    middleware: [{
      pre: (context: k8s.RequestContext) => {
        context.setSignal(signal)
        return new k8s.Observable(Promise.resolve(context))
      },
      post: (response: k8s.ResponseContext) => new k8s.Observable(Promise.resolve(response))
    }],
    middlewareMergeStrategy: 'append'
  }
}

/** callOptions with a fresh timeout starting now */
export function withTimeout (timeoutMs: number): k8s.ConfigurationOptions {
  return callOptions(AbortSignal.timeout(timeoutMs))
}

/** the selectors and paging of one list call (the typed list calls' parameter names) */
export interface ListRequest {
  labelSelector?: string
  fieldSelector?: string
  limit: number
  _continue?: string
}

/** One page of a collection, as the informer asks for it (`options` carries the call's timeout). */
export type ListPage<T extends k8s.KubernetesObject> = (request: ListRequest, options: k8s.ConfigurationOptions) => Promise<k8s.KubernetesListObject<T>>

/**
 * GET one page of the collection at `path` (e.g. /api/v1/secrets) and return it as plain JSON. The
 * request goes as a typed call's does: the client's own HTTP transport, the kubeconfig's credentials
 * and TLS settings (applySecurityAuthentication), and the call options' middleware (the timeout's
 * signal). Only the typed client's deserialization is skipped: it copies every object of the page
 * into model classes and Dates, garbage as soon as the informer trims the page (`keep`), and the
 * watch hands over plain JSON anyway, so the cache now holds one shape. Failures throw what a typed
 * call throws (ApiException with the Status body, or the transport's error).
 */
export function listPageAsJson<T extends k8s.KubernetesObject> (kubeConfig: k8s.KubeConfig, path: string): ListPage<T> {
  const transport = k8s.createConfiguration().httpApi
  return async (request, options) => {
    const cluster = kubeConfig.getCurrentCluster()
    if (cluster === null) throw new Error('no current cluster in the kubeconfig')
    const url = new URL(cluster.server + path)
    if (request.labelSelector !== undefined) url.searchParams.set('labelSelector', request.labelSelector)
    if (request.fieldSelector !== undefined) url.searchParams.set('fieldSelector', request.fieldSelector)
    url.searchParams.set('limit', String(request.limit))
    if (request._continue !== undefined) url.searchParams.set('continue', request._continue)
    let context = new k8s.RequestContext(url.toString(), k8s.HttpMethod.GET)
    context.setHeaderParam('Accept', 'application/json')
    await kubeConfig.applySecurityAuthentication(context)
    for (const middleware of options.middleware ?? []) context = await middleware.pre(context).toPromise()
    let response = await transport.send(context).toPromise()
    for (const middleware of options.middleware ?? []) response = await middleware.post(response).toPromise()
    const body = await response.body.text()
    if (response.httpStatusCode < 200 || response.httpStatusCode > 299) {
      throw new k8s.ApiException(response.httpStatusCode, 'Unsuccessful HTTP Request', body, response.headers)
    }
    const list = JSON.parse(body) as { metadata?: { resourceVersion?: string, continue?: string }, items?: T[] | null }
    const { resourceVersion, continue: next } = list.metadata ?? {}
    // the typed list's field names, which the informer reads
    return {
      metadata: { ...(resourceVersion !== undefined && { resourceVersion }), ...(next !== undefined && { _continue: next }) },
      items: list.items ?? []
    }
  }
}

export interface ApiFailure {
  /** HTTP status; undefined for transport failures and timeouts */
  code?: number
  /** Status reason (AlreadyExists, Conflict, NotFound…) or the transport error code (ECONNREFUSED, TimeoutError) */
  reason?: string
  /** short and safe to log: the Status message, never a response body */
  message: string
}

/** What went wrong with an API call, in loggable terms. */
export function apiFailure (err: unknown): ApiFailure {
  if (err instanceof k8s.ApiException) {
    const code = err.code
    let reason: string | undefined
    let message = `HTTP ${code}`
    if (typeof err.body === 'string') {
      try {
        const status = JSON.parse(err.body) as { reason?: unknown, message?: unknown }
        if (typeof status.reason === 'string') reason = status.reason
        if (typeof status.message === 'string') message = status.message
      } catch {
        // not a Status: keep the bare code
      }
    }
    return { code, ...(reason !== undefined && { reason }), message }
  }
  if (err instanceof Error) {
    // undici: TypeError('fetch failed') with the socket error as cause; aborts carry their own name.
    const cause = (err as { cause?: { code?: unknown } }).cause
    const reason = typeof cause?.code === 'string' ? cause.code : err.name
    return { reason, message: err.message }
  }
  return { message: String(err) }
}

export function isStatus (err: unknown, code: number, reason?: string): boolean {
  const failure = apiFailure(err)
  return failure.code === code && (reason === undefined || failure.reason === reason)
}
