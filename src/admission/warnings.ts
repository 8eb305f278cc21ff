// Every warning pullguard returns to the client (kubectl prints them), in one place. Warnings reach
// the tenant, so they never name another tenant; audit annotations, read by admins only, may.

/** the API server truncates each warning past 256 characters; ours stay whole and readable */
export const MAX_WARNING_LENGTH = 256

export const WARNINGS = {
  tenantUnknown: (namespace: string) =>
    `pullguard: the tenant of namespace "${namespace}" is not known yet; pull policy enforced, no pull secret added`,
  noCredentials: (tenant: string) =>
    `pullguard: tenant "${tenant}" has no registry credentials; no pull secret was added`,
  invalidImage: (reference: string) =>
    `pullguard: image "${reference}" is not a valid image reference`,
  foreignImage: (image: string, scope: string) =>
    `pullguard: image "${image}" is in registry ${scope}, which belongs to another tenant`,
  managedSecretConflict: (secretName: string) =>
    `pullguard: a Secret named "${secretName}" exists here and is not managed by pullguard; registry credentials were not installed`,
  managedSecretNotReady: (secretName: string) =>
    `pullguard: registry credentials Secret "${secretName}" is not ready yet; image pulls may fail until it is`
} as const

/** the denial's message when images reach into other tenants' registries */
export function foreignImageDenial (first: { image: string, scope: string }, tenant: string | undefined, more: number): string {
  return `pullguard: image "${first.image}" is in registry ${first.scope}, which belongs to another tenant;` +
    ` tenant "${tenant}" has no credentials for it${more > 0 ? ` (and ${more} more)` : ''}`
}

/** a warning cut to what the API server keeps, marked as cut */
export function fitWarning (message: string): string {
  return message.length > MAX_WARNING_LENGTH ? `${message.slice(0, MAX_WARNING_LENGTH - 1)}…` : message
}
