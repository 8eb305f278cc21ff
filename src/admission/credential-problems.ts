// What can be wrong with the credential sources, one stable reason per kind of problem. The reasons
// are Kubernetes Event reasons (CamelCase, as kubectl shows them in the REASON column), gauge label
// values and log fields at once, so they never change spelling; the README lists them.

export const CREDENTIAL_PROBLEM_REASONS = [
  // The whole Secret is unusable: the kubelet would refuse it, or it holds nothing a node can use.
  // pullguard then serves the Secret's last good version, if it had one (see UNUSABLE_SOURCE_REASONS).
  'WrongSecretType',
  'MissingDockerConfig',
  'InvalidBase64',
  'InvalidJSON',
  'MalformedDockerConfig',
  'MalformedEntry',
  'InvalidAuthBase64',
  'MalformedAuth',
  'NoUsableCredential',
  // A token source (pullguard.dev/token-source) whose settings cannot be used: no token is minted.
  'InvalidTokenSource',
  // One entry gives a node nothing: it is left out of the merged Secret, the rest is used.
  'EntryWithoutCredential',
  'IdentityTokenOnly',
  'CredentialHelperOnly',
  'UnparseableRegistryKey',
  // Two sources of the same standing (one tenant's own, or two shared) define the same thing.
  'RegistryKeyConflict',
  'HttpHeaderConflict',
  // A tenant with namespaces that ends up with no usable credentials because its sources are broken.
  'TenantWithoutCredentials'
] as const

export type CredentialProblemReason = typeof CREDENTIAL_PROBLEM_REASONS[number]

/** Reasons that make a source Secret unusable as a whole (its last good version is served instead). */
export const UNUSABLE_SOURCE_REASONS: ReadonlySet<CredentialProblemReason> = new Set([
  'WrongSecretType', 'MissingDockerConfig', 'InvalidBase64', 'InvalidJSON', 'MalformedDockerConfig',
  'MalformedEntry', 'InvalidAuthBase64', 'MalformedAuth', 'NoUsableCredential', 'InvalidTokenSource'
])

/** One problem in one source Secret's config, as read. */
export interface ConfigProblem {
  reason: CredentialProblemReason
  /** the entry's key by safeKeyScope, when the problem is one entry's */
  scope?: string
  /** what is wrong, for people; never Secret data nor a raw key */
  detail: string
}
