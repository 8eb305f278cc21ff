// What the bench feeds pullguard: the committed Pod CREATE review, Pods of any container count, and
// synthetic clusters of any size whose tenants hold credentials of the kinds seen in real clusters.
// Everything is generated from a fixed seed, so two runs review the same objects.

import { readFileSync } from 'node:fs'
import type { AdmissionReview, Container, Pod } from '../src/admission/types.js'

export const REVIEW_FILE = new URL('../examples/pod-create-review.json', import.meta.url).pathname
export const EXAMPLE_CLUSTER_FILE = new URL('../examples/standalone/cluster.yaml', import.meta.url).pathname

export const CREDENTIALS_NAMESPACE = 'pullguard-system'
const TENANT_LABEL = 'pullguard.dev/tenant'
const SHARED_LABEL = 'pullguard.dev/shared'

export function loadReview (): AdmissionReview {
  return JSON.parse(readFileSync(REVIEW_FILE, 'utf8')) as AdmissionReview
}

/** A deep copy that can be edited freely: reviews are plain JSON. */
export function copy<T> (value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

export function podOf (review: AdmissionReview): Pod & { spec: NonNullable<Pod['spec']> } {
  const pod = review.request?.object as Pod | undefined
  if (pod?.spec === undefined) throw new Error('the review has no Pod')
  return pod as Pod & { spec: NonNullable<Pod['spec']> }
}

/** Images of the four kinds a review meets, for tenant acme of examples/standalone/cluster.yaml. */
export const EXAMPLE_IMAGES = {
  own: 'registry.acme.example/web/app:2.1.0',
  shared: 'mirror.platform.example/tools/fluent-bit:3.1',
  foreign: 'ghcr.io/globex/api:1.8.0',
  public: 'nginx:1.27'
} as const

/**
 * The committed review with its Pod's containers replaced by `count` containers of realistic size
 * (env, probes, mounts, security context), images cycling through `images`, none yet pulled Always.
 */
export function reviewWithContainers (count: number, images: readonly string[] = Object.values(EXAMPLE_IMAGES)): AdmissionReview {
  const review = copy(loadReview())
  const spec = podOf(review).spec
  delete spec.initContainers
  spec.containers = Array.from({ length: count }, (_, i) => container(i, images[i % images.length] as string))
  return review
}

/**
 * The committed review with `count` containers as the API server sends them after defaulting (small:
 * 10,000 fit in about 1.6 MB, well under its 3 MB request limit), every image distinct and none one
 * pullguard can accept quietly: even ones not valid references (an upper-case path, which the API
 * server lets through), odd ones in globex's registry, foreign to acme's team-a. `variant` makes the
 * references of one call differ from another's, so that no run is helped by the parse cache.
 */
export function reviewWithBadImages (count: number, variant = 0): AdmissionReview {
  const review = copy(loadReview())
  const request = review.request as NonNullable<AdmissionReview['request']>
  request.uid = `00000000-0000-4000-9000-${String(variant).padStart(12, '0')}`
  const spec = podOf(review).spec
  delete spec.initContainers
  spec.containers = Array.from({ length: count }, (_, i) => ({
    name: `c-${i}`,
    image: i % 2 === 0 ? `registry.acme.example/Team/App-${i}:v${variant}` : `ghcr.io/globex/app-${i}:v${variant}`,
    imagePullPolicy: 'IfNotPresent',
    resources: {},
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File'
  }))
  return review
}

function container (index: number, image: string): Container & Record<string, unknown> {
  const port = 8080 + index
  return {
    name: `app-${index}`,
    image,
    command: ['/app/server'],
    args: [`--port=${port}`, `--shard=${index}`, '--log-format=json'],
    ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
    env: [
      { name: 'LOG_LEVEL', value: 'info' },
      { name: 'SHARD', value: String(index) },
      { name: 'GOMAXPROCS', value: '2' },
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }
    ],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    volumeMounts: [
      { name: 'kube-api-access-7x2kq', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }
    ],
    livenessProbe: probe('/healthz', port),
    readinessProbe: probe('/readyz', port),
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] }
    },
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent'
  }
}

function probe (path: string, port: number): object {
  return {
    httpGet: { path, port, scheme: 'HTTP' },
    initialDelaySeconds: 5,
    timeoutSeconds: 1,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3
  }
}

// ---------------------------------------------------------------------------------------------------
// Synthetic clusters

export interface ClusterSize {
  namespaces: number
  tenants: number
}

export interface SyntheticCluster {
  /** Namespaces and Secrets, as the API server would list them */
  objects: object[]
  /** tenant namespaces, each with its tenant and the images a Pod there would use */
  tenantNamespaces: Array<{ namespace: string, tenant: string }>
  imagesOf (tenant: string): ReviewImages
  credentialSecrets: number
  credentialKeys: number
}

export interface ReviewImages {
  own: string
  shared: string
  foreign: string
  public: string
}

// Registry credentials come in a few shapes; their sizes decide the memory a cluster view needs.
type CredentialKind = 'harbor' | 'ghcr' | 'ecr' | 'artifact-registry'
const KINDS: readonly CredentialKind[] = ['harbor', 'ghcr', 'ecr', 'artifact-registry']
const PUBLIC_IMAGES = ['nginx:1.27', 'docker.io/library/redis:7.4', 'quay.io/prometheus/node-exporter:v1.8.2', 'registry.k8s.io/pause:3.10']
const SHARED_MIRROR = 'mirror.platform.example'

/**
 * `namespaces` namespaces (about 90 % opted in, spread over `tenants` tenants; the rest plain), and in
 * the credentials namespace one Secret per tenant, plus: every 10th tenant a Docker Hub login (a
 * host-only key on a public registry: no ownership), every 7th a second key in its Secret, every 25th
 * a vendor registry key shared with other tenants, two `*.` glob keys in the whole cluster, and three
 * shared Secrets granted to everyone. `allOptedIn`: no plain namespaces, every one a tenant's.
 */
export function syntheticCluster ({ namespaces, tenants }: ClusterSize, seed = 42, options: { allOptedIn?: boolean } = {}): SyntheticCluster {
  const random = mulberry32(seed)
  const objects: object[] = []
  const tenantNames = Array.from({ length: tenants }, (_, t) => `tenant-${String(t).padStart(5, '0')}`)
  const ownRegistry = new Map<string, { kind: CredentialKind, key: string, imagePrefix: string }>()
  let credentialSecrets = 0
  let credentialKeys = 0

  objects.push(namespace(CREDENTIALS_NAMESPACE, undefined, random))
  const plain = options.allOptedIn === true || namespaces - tenants < 0 ? 0 : Math.min(Math.floor(namespaces / 10), namespaces - tenants)
  const tenantNamespaces: SyntheticCluster['tenantNamespaces'] = []
  for (let i = 0; i < namespaces; i++) {
    if (i < plain) {
      objects.push(namespace(`plain-${i}`, undefined, random))
      continue
    }
    const tenant = tenantNames[(i - plain) % tenants] as string
    const name = `${tenant}-ns-${Math.floor((i - plain) / tenants)}`
    objects.push(namespace(name, tenant, random))
    tenantNamespaces.push({ namespace: name, tenant })
  }

  const secret = (name: string, labels: Record<string, string>, auths: Record<string, object>): void => {
    credentialSecrets++
    credentialKeys += Object.keys(auths).length
    objects.push(dockerConfigSecret(name, labels, auths, random))
  }

  tenantNames.forEach((tenant, t) => {
    const kind = KINDS[t % KINDS.length] as CredentialKind
    const account = String(100_000_000_000 + t * 7919)
    const { key, imagePrefix, entry } = {
      harbor: () => ({ key: `registry.${tenant}.example`, imagePrefix: `registry.${tenant}.example/apps`, entry: auth(`robot$${tenant}+puller`, token(random, 32)) }),
      ghcr: () => ({ key: `ghcr.io/${tenant}`, imagePrefix: `ghcr.io/${tenant}`, entry: auth(`${tenant}-bot`, `ghp_${token(random, 36)}`) }),
      // ECR passwords are ~1.6 KB tokens; Artifact Registry keys carry a whole service-account JSON.
      ecr: () => ({ key: `https://${account}.dkr.ecr.eu-west-1.amazonaws.com`, imagePrefix: `${account}.dkr.ecr.eu-west-1.amazonaws.com`, entry: auth('AWS', token(random, 1600)) }),
      'artifact-registry': () => ({ key: `europe-docker.pkg.dev/${tenant}-prod`, imagePrefix: `europe-docker.pkg.dev/${tenant}-prod/apps`, entry: auth('_json_key', serviceAccountKey(tenant, random)) })
    }[kind]()
    ownRegistry.set(tenant, { kind, key, imagePrefix })
    const auths: Record<string, object> = { [key]: entry }
    if (t % 7 === 3) auths[`quay.io/${tenant}`] = auth(`${tenant}+ci`, token(random, 64))
    if (t % 25 === 0) auths[`registry.vendor-${(t / 25) % 4}.example`] = auth(`${tenant}`, token(random, 40))
    if (t === 1 || t === Math.floor(tenants / 2) + 1) auths[`*.cdn.${tenant}.example`] = auth('cdn', token(random, 24))
    secret(`${tenant}-registry`, { [TENANT_LABEL]: tenant }, auths)
    if (t % 10 === 5) secret(`${tenant}-dockerhub`, { [TENANT_LABEL]: tenant }, { 'https://index.docker.io/v1/': auth(`${tenant}hub`, `dckr_pat_${token(random, 27)}`) })
  })

  secret('platform-mirror', { [SHARED_LABEL]: 'true' }, { [SHARED_MIRROR]: auth('mirror-reader', token(random, 32)) })
  secret('platform-quay', { [SHARED_LABEL]: 'true' }, { 'quay.io/platform': auth('platform+reader', token(random, 64)) })
  secret('platform-dockerhub', { [SHARED_LABEL]: 'true' }, { 'https://index.docker.io/v1/': auth('platformhub', `dckr_pat_${token(random, 27)}`) })
  // Not a credential: the webhook's own serving certificate lives here too.
  objects.push({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'pullguard-tls', namespace: CREDENTIALS_NAMESPACE },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': token(random, 1100), 'tls.key': token(random, 320) }
  })

  const imagesOf = (tenant: string): ReviewImages => {
    const t = tenantNames.indexOf(tenant)
    const own = ownRegistry.get(tenant)
    // another tenant's private registry: half the cluster away, so never the same tenant
    const other = ownRegistry.get(tenantNames[(t + Math.floor(tenants / 2) + 1) % tenants] as string)
    if (own === undefined || other === undefined || other === own) throw new Error(`no images for ${tenant}`)
    return {
      own: `${own.imagePrefix}/api:1.4.${t % 10}`,
      shared: `${SHARED_MIRROR}/library/busybox:1.36`,
      foreign: `${other.imagePrefix}/worker:2.0.1`,
      public: PUBLIC_IMAGES[t % PUBLIC_IMAGES.length] as string
    }
  }
  return { objects, tenantNamespaces, imagesOf, credentialSecrets, credentialKeys }
}

/**
 * `count` Pod CREATE reviews spread evenly over the cluster's tenant namespaces, each Pod with one
 * image of each kind: own registry, shared mirror, another tenant's registry, public.
 */
export function reviewsFor (cluster: SyntheticCluster, count: number): AdmissionReview[] {
  const base = loadReview()
  const stride = cluster.tenantNamespaces.length / count
  return Array.from({ length: count }, (_, i) => reviewInNamespace(cluster, Math.floor(i * stride), base))
}

/** The review of such a Pod in the cluster's `index`th tenant namespace. */
export function reviewInNamespace (cluster: SyntheticCluster, index: number, base: AdmissionReview = loadReview()): AdmissionReview {
  const { namespace, tenant } = cluster.tenantNamespaces[index] as { namespace: string, tenant: string }
  const review = copy(base)
  const request = review.request as NonNullable<AdmissionReview['request']>
  request.uid = `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`
  request.namespace = namespace
  const pod = podOf(review)
  if (pod.metadata !== undefined) pod.metadata.namespace = namespace
  const images = cluster.imagesOf(tenant)
  const [init0, init1] = pod.spec.initContainers ?? []
  const [main0, main1] = pod.spec.containers ?? []
  if (init0 === undefined || init1 === undefined || main0 === undefined || main1 === undefined) {
    throw new Error('the fixture Pod needs two init containers and two containers')
  }
  init0.image = images.own
  init1.image = images.shared
  main0.image = images.foreign
  main1.image = images.public
  return review
}

function namespace (name: string, tenant: string | undefined, random: () => number): object {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      uid: uuid(random),
      resourceVersion: String(Math.floor(random() * 1e8)),
      creationTimestamp: '2026-01-15T09:30:00Z',
      labels: {
        'kubernetes.io/metadata.name': name,
        ...(tenant !== undefined && { [TENANT_LABEL]: tenant, 'team.example.com/cost-centre': `cc-${tenant.slice(-3)}` })
      }
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' }
  }
}

function dockerConfigSecret (name: string, labels: Record<string, string>, auths: Record<string, object>, random: () => number): object {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: CREDENTIALS_NAMESPACE,
      uid: uuid(random),
      resourceVersion: String(Math.floor(random() * 1e8)),
      creationTimestamp: '2026-01-15T09:30:00Z',
      labels
    },
    type: 'kubernetes.io/dockerconfigjson',
    // as the API server returns it: base64 of the JSON text
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths })).toString('base64') }
  }
}

/** One `auths` entry as `kubectl create secret docker-registry` writes it. */
function auth (username: string, password: string): object {
  return { username, password, auth: Buffer.from(`${username}:${password}`).toString('base64') }
}

function serviceAccountKey (tenant: string, random: () => number): string {
  return JSON.stringify({
    type: 'service_account',
    project_id: `${tenant}-prod`,
    private_key_id: token(random, 40).toLowerCase(),
    private_key: `-----BEGIN PRIVATE KEY-----\n${token(random, 1624)}\n-----END PRIVATE KEY-----\n`,
    client_email: `puller@${tenant}-prod.iam.gserviceaccount.com`,
    client_id: String(Math.floor(random() * 1e20)),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token'
  })
}

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
function token (random: () => number, length: number): string {
  let text = ''
  for (let i = 0; i < length; i++) text += TOKEN_ALPHABET[Math.floor(random() * TOKEN_ALPHABET.length)]
  return text
}

function uuid (random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`
}

/** A small seeded PRNG: the same cluster on every run. */
function mulberry32 (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6D2B79F5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
