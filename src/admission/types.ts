// The shapes the admission core works on. Only the fields pullguard reads are typed; everything else
// in a Pod passes through untouched (the patch names exact paths, it never rewrites whole objects).

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT'

export interface GroupVersionResource {
  group: string
  version: string
  resource: string
}

export interface AdmissionRequest {
  uid: string
  kind?: { group: string, version: string, kind: string }
  resource?: GroupVersionResource
  subResource?: string
  namespace?: string
  name?: string
  operation: Operation
  userInfo?: { username?: string, groups?: string[] }
  object?: unknown
  oldObject?: unknown
  dryRun?: boolean
  options?: unknown
}

export interface AdmissionStatus {
  code: number
  message: string
  reason?: string
}

export interface AdmissionResponse {
  uid: string
  allowed: boolean
  status?: AdmissionStatus
  patchType?: 'JSONPatch'
  /** base64 (padded) of the RFC 6902 patch */
  patch?: string
  warnings?: string[]
  auditAnnotations?: Record<string, string>
}

/** admission.k8s.io/v1 and v1beta1 share this shape; the answer echoes the request's apiVersion. */
export interface AdmissionReview {
  apiVersion: AdmissionApiVersion
  kind: 'AdmissionReview'
  request?: AdmissionRequest
  response?: AdmissionResponse
}

export const ADMISSION_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const
export type AdmissionApiVersion = typeof ADMISSION_API_VERSIONS[number]

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never'

export interface Container {
  name: string
  image?: string
  imagePullPolicy?: PullPolicy | string
}

export interface Volume {
  name: string
  image?: { reference?: string, pullPolicy?: PullPolicy | string }
}

export interface PodSpec {
  initContainers?: Container[] | null
  containers?: Container[] | null
  ephemeralContainers?: Container[] | null
  volumes?: Volume[] | null
  imagePullSecrets?: Array<{ name?: string }> | null
}

export interface Pod {
  apiVersion?: string
  kind?: string
  metadata?: {
    name?: string
    generateName?: string
    namespace?: string
    annotations?: Record<string, string> | null
    labels?: Record<string, string> | null
  }
  spec?: PodSpec
}

/** One RFC 6902 operation as pullguard emits them: only `add`, which also replaces an existing member. */
export interface PatchOperation {
  op: 'add'
  path: string
  value: unknown
}
