// The policy knobs the decision reads. Config (src/config) builds this once at start from flags,
// environment and file; the core never looks anywhere else.

export type ForeignRegistryPolicy = 'warn' | 'deny' | 'ignore'

export interface AdmissionOptions {
  /** label on Namespaces (opt-in) and on credential Secrets (ownership) */
  tenantLabel: string
  /** label that grants a credential Secret to every tenant */
  sharedLabel: string
  /** only Secrets in this namespace are ever credentials */
  credentialsNamespace: string
  /** name of the merged dockerconfigjson Secret kept in each tenant namespace */
  managedSecretName: string
  foreignRegistryPolicy: ForeignRegistryPolicy
  /** hosts where a host-only credential key does not make the whole registry one tenant's */
  publicRegistries: string[]
  /** normalised repository names (`registry.k8s.io/pause`, or `quay.io/org/*`) that keep their pull policy */
  alwaysPullExempt: string[]
}

export const DEFAULT_PUBLIC_REGISTRIES = [
  'docker.io', 'ghcr.io', 'quay.io', 'gcr.io', 'registry.k8s.io', 'public.ecr.aws', 'mcr.microsoft.com'
]

export const DEFAULT_ADMISSION_OPTIONS: AdmissionOptions = {
  tenantLabel: 'pullguard.dev/tenant',
  sharedLabel: 'pullguard.dev/shared',
  credentialsNamespace: 'pullguard-system',
  managedSecretName: 'pullguard-registry-credentials',
  foreignRegistryPolicy: 'warn',
  publicRegistries: DEFAULT_PUBLIC_REGISTRIES,
  alwaysPullExempt: []
}

/** Labels every managed Secret carries; the reconciler only ever touches Secrets with MANAGED_BY. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by'
export const MANAGED_BY_VALUE = 'pullguard'
export const CONTENT_HASH_ANNOTATION = 'pullguard.dev/content-hash'
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror'
