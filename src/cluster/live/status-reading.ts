// One read-only look at a live cluster for `pullguard status`: each collection pullguard watches is
// listed once (no watches, no writes), plus the leader election Lease and, when asked, the webhook's
// TLS Secret. What `serve` would cache, as fresh as the moment of the call.

import * as k8s from '@kubernetes/client-node'
import type { SecretObject } from '../../admission/credentials.js'
import type { NamespaceObject } from '../cluster-model.js'
import type { InputReading, LeaseObject } from '../status-report.js'
import { apiFailure, isStatus, withTimeout } from './kube-client.js'

export interface LiveStatusRequest {
  kubeConfig: k8s.KubeConfig
  credentialsNamespace: string
  managedSecretName: string
  /** the leader election Lease; undefined: not read */
  lease?: { namespace: string, name: string }
  /** the Secret (kubernetes.io/tls) the webhook serves from, the first of `names` that exists; undefined: not read */
  tlsSecret?: { namespace: string, names: readonly string[] }
  /** per call; a hung API server must not hang a CronJob */
  timeoutMs: number
  now: () => Date
}

export interface LiveStatusReading {
  namespaces: NamespaceObject[]
  secrets: SecretObject[]
  lease: LeaseObject | undefined
  /** the TLS Secret's tls.crt, or why it could not be had */
  tlsCertificate?: { pem: string, secret: string } | { reason: string }
  inputs: InputReading[]
}

/** Lists what `status` needs; an API failure of a list or of the Lease throws, naming the call. */
export async function readLiveStatus (request: LiveStatusRequest): Promise<LiveStatusReading> {
  const core = request.kubeConfig.makeApiClient(k8s.CoreV1Api)
  const coordination = request.kubeConfig.makeApiClient(k8s.CoordinationV1Api)
  const options = (): k8s.ConfigurationOptions => withTimeout(request.timeoutMs)
  const inputs: InputReading[] = []
  const listed = async <T>(name: string, from: string, list: () => Promise<{ items: T[], metadata?: { resourceVersion?: string } }>): Promise<T[]> => {
    let result
    try {
      result = await list()
    } catch (error) {
      throw new Error(`listing ${from}: ${apiFailure(error).message}`)
    }
    const resourceVersion = result.metadata?.resourceVersion
    inputs.push({ name, from, readAt: request.now(), ...(resourceVersion !== undefined && { resourceVersion }) })
    return result.items
  }

  const namespaces = await listed('namespaces', 'namespaces', () => core.listNamespace({}, options()))
  const sources = await listed('credential sources', `secrets in ${request.credentialsNamespace}`,
    () => core.listNamespacedSecret({ namespace: request.credentialsNamespace }, options()))
  // the same field selector as serve's informer: never reads tenants' other Secrets
  const managed = await listed('managed secrets', `secrets named ${request.managedSecretName}`,
    () => core.listSecretForAllNamespaces({ fieldSelector: `metadata.name=${request.managedSecretName}` }, options()))

  let lease: LeaseObject | undefined
  if (request.lease !== undefined) {
    const { namespace, name } = request.lease
    try {
      lease = await coordination.readNamespacedLease({ name, namespace }, options())
    } catch (error) {
      if (!isStatus(error, 404)) throw new Error(`reading Lease ${namespace}/${name}: ${apiFailure(error).message}`)
    }
  }

  const reading: LiveStatusReading = {
    namespaces: namespaces as NamespaceObject[],
    // the credentials namespace's copy of the managed name, if any, comes in both lists
    secrets: [...sources, ...managed.filter(secret => secret.metadata?.namespace !== request.credentialsNamespace)] as SecretObject[],
    lease,
    inputs
  }
  if (request.tlsSecret !== undefined) {
    const { namespace, names } = request.tlsSecret
    const missing: string[] = []
    for (const name of names) {
      try {
        const secret = await core.readNamespacedSecret({ name, namespace }, options())
        const pem = secret.data?.['tls.crt']
        reading.tlsCertificate = pem === undefined ? { reason: `Secret ${namespace}/${name} has no tls.crt` } : { pem: Buffer.from(pem, 'base64').toString('utf8'), secret: name }
        break
      } catch (error) {
        // the chart's Secret name depends on its TLS mode: try the next one
        if (isStatus(error, 404)) {
          missing.push(name)
          continue
        }
        reading.tlsCertificate = { reason: `Secret ${namespace}/${name}: ${apiFailure(error).message}` }
        break
      }
    }
    if (reading.tlsCertificate === undefined) reading.tlsCertificate = { reason: `no Secret ${missing.join(' or ')} in ${namespace}` }
  }
  return reading
}
