// Builders for the objects tests decide against: real-shaped Namespaces, credential Secrets and
// AdmissionReviews, starting from the fixtures in test/fixtures/ (cloned on load, so tests may mutate freely).

import { DEFAULT_ADMISSION_OPTIONS, type AdmissionOptions } from '../../src/admission/options.js'
import type { AdmissionReview } from '../../src/admission/types.js'
import { fixture } from './fixtures.js'

export const podCreateReview = (): AdmissionReview => fixture<AdmissionReview>('pod-create.json')
export const debugReview = (): AdmissionReview => fixture<AdmissionReview>('pod-ephemeralcontainers-update.json')

export function namespace (name: string, tenant?: string, labelKey = DEFAULT_ADMISSION_OPTIONS.tenantLabel): object {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, ...(tenant !== undefined && { labels: { [labelKey]: tenant, 'kubernetes.io/metadata.name': name } }) }
  }
}

export interface CredentialSecretSpec {
  name: string
  /** string: that tenant's; null: shared */
  tenant: string | null
  auths: Record<string, object>
  namespace?: string
  type?: string
  labels?: Record<string, string>
}

export function credentialSecret (spec: CredentialSecretSpec, options: AdmissionOptions = DEFAULT_ADMISSION_OPTIONS): object {
  const labels = spec.labels ?? (spec.tenant === null ? { [options.sharedLabel]: 'true' } : { [options.tenantLabel]: spec.tenant })
  const type = spec.type ?? 'kubernetes.io/dockerconfigjson'
  const payload = type === 'kubernetes.io/dockercfg' ? spec.auths : { auths: spec.auths }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: spec.name, namespace: spec.namespace ?? options.credentialsNamespace, labels },
    type,
    data: { [type === 'kubernetes.io/dockercfg' ? '.dockercfg' : '.dockerconfigjson']: Buffer.from(JSON.stringify(payload)).toString('base64') }
  }
}

export const auth = (user: string, password: string): { auth: string } =>
  ({ auth: Buffer.from(`${user}:${password}`).toString('base64') })

/** The cluster most tests decide against: acme (own registry), globex (a ghcr.io org), a shared mirror. */
export function standardCluster (): object[] {
  return [
    namespace('pullguard-system'),
    namespace('team-a', 'acme'),
    namespace('team-b', 'globex'),
    namespace('sandbox', 'initech'),
    namespace('default'),
    credentialSecret({ name: 'acme-registry', tenant: 'acme', auths: { 'registry.acme.example': auth('acme', 'pw-acme') } }),
    credentialSecret({ name: 'globex-ghcr', tenant: 'globex', auths: { 'ghcr.io/globex': auth('globex', 'pw-globex'), 'https://index.docker.io/v1/': auth('globex-hub', 'pw-hub') } }),
    credentialSecret({ name: 'platform-mirror', tenant: null, auths: { 'mirror.platform.example': auth('mirror', 'pw-mirror') } })
  ]
}

export function decodePatch (patch: string | undefined): unknown[] {
  return patch === undefined ? [] : JSON.parse(Buffer.from(patch, 'base64').toString('utf8')) as unknown[]
}
