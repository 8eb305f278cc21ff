// Which tenants' credentials cover which registry paths: built once per cluster snapshot, asked once
// per container image on every admission review. A lookup probes one map entry per distinct key-path
// length on the image's registry, so its cost does not grow with the number of tenants or keys; only
// keys with a '*' in the host are tried one by one, and those are rare.

import {
  canonicalRegistry, credentialKeyMatchesHost, parseCredentialKey, registryHostOf, registryOfKey,
  type CredentialKey
} from './credential-key.js'
import type { ImageName } from './image-reference.js'

export interface CredentialGrant {
  /** the raw `auths` key */
  key: string
  /** null: a shared credential, granted to every tenant */
  tenant: string | null
}

export interface ForeignOwner {
  tenant: string
  /** the owning key, normalised: host[:port][/path] */
  scope: string
}

export interface ImageCoverage {
  /** a key of the tenant's own or a shared key matches the image */
  covered: boolean
  /** when not covered: the tenant whose key claims the image (smallest name, then most specific key) */
  foreignOwner?: ForeignOwner
}

/** Everyone holding a key for one registry and path prefix. */
interface PrefixHolders {
  shared: boolean
  tenants: Set<string>
  /** smallest tenant name whose key here confers ownership */
  owner: string | undefined
  scope: string
}

interface RegistryPrefixes {
  byPrefix: Map<string, PrefixHolders>
  /** distinct key-path lengths, longest first */
  lengths: number[]
}

interface GlobGrant {
  key: CredentialKey
  tenant: string | null
}

interface OwnerCandidate extends ForeignOwner {
  pathLength: number
  glob: boolean
}

const COVERED: ImageCoverage = Object.freeze({ covered: true })
const NOT_COVERED: ImageCoverage = Object.freeze({ covered: false })

export class RegistryIndex {
  /** keys that can never match an image (unparseable); skipped, listed once each for warnings */
  readonly invalidKeys: readonly string[]
  private readonly registries: ReadonlyMap<string, RegistryPrefixes>
  private readonly globGrants: readonly GlobGrant[]
  private readonly publicRegistries: ReadonlySet<string>

  private constructor (
    registries: ReadonlyMap<string, RegistryPrefixes>,
    globGrants: readonly GlobGrant[],
    publicRegistries: ReadonlySet<string>,
    invalidKeys: readonly string[]
  ) {
    this.registries = registries
    this.globGrants = globGrants
    this.publicRegistries = publicRegistries
    this.invalidKeys = invalidKeys
  }

  /**
   * publicRegistries are hosts (host[:port]) where a tenant's host-only key, such as Docker Hub
   * credentials kept for rate limits, does not make every image there that tenant's.
   */
  static build (grants: Iterable<CredentialGrant>, publicRegistries: readonly string[]): RegistryIndex {
    const publics = new Set<string>()
    for (const entry of publicRegistries) {
      const key = parseCredentialKey(entry)
      if (key !== undefined && !key.hasGlob) publics.add(registryOfKey(key))
    }

    const registries = new Map<string, RegistryPrefixes>()
    const globGrants: GlobGrant[] = []
    const invalidKeys = new Set<string>()
    for (const { key: raw, tenant } of grants) {
      const key = parseCredentialKey(raw)
      if (key === undefined) {
        invalidKeys.add(raw)
        continue
      }
      if (key.hasGlob) {
        globGrants.push({ key, tenant })
        continue
      }

      const registry = registryOfKey(key)
      let prefixes = registries.get(registry)
      if (prefixes === undefined) {
        prefixes = { byPrefix: new Map(), lengths: [] }
        registries.set(registry, prefixes)
      }
      let holders = prefixes.byPrefix.get(key.path)
      if (holders === undefined) {
        holders = { shared: false, tenants: new Set(), owner: undefined, scope: key.scope }
        prefixes.byPrefix.set(key.path, holders)
        if (!prefixes.lengths.includes(key.path.length)) prefixes.lengths.push(key.path.length)
      }
      if (tenant === null) {
        holders.shared = true
        continue
      }
      holders.tenants.add(tenant)
      const confersOwnership = key.path !== '' || !publics.has(registry)
      if (confersOwnership && (holders.owner === undefined || tenant < holders.owner)) holders.owner = tenant
    }
    for (const prefixes of registries.values()) prefixes.lengths.sort((a, b) => b - a)

    return new RegistryIndex(registries, globGrants, publics, Object.freeze([...invalidKeys]))
  }

  static readonly EMPTY: RegistryIndex = RegistryIndex.build([], [])

  /** Whether the tenant's credentials cover the image, and if not, which other tenant claims it. */
  lookup (image: ImageName, tenant: string): ImageCoverage {
    const registry = canonicalRegistry(image.registry)
    let owner: OwnerCandidate | undefined

    // only the prefixes of the image path whose lengths some key on this registry has
    const prefixes = this.registries.get(registry)
    if (prefixes !== undefined) {
      for (const length of prefixes.lengths) {
        if (length > image.path.length) continue
        const holders = prefixes.byPrefix.get(image.path.slice(0, length))
        if (holders === undefined) continue
        if (holders.shared || holders.tenants.has(tenant)) return COVERED
        if (holders.owner === undefined) continue
        const candidate = { tenant: holders.owner, scope: holders.scope, pathLength: length, glob: false }
        if (owner === undefined || outranks(candidate, owner)) owner = candidate
      }
    }

    // glob keys one by one; the image's registry is split once for all of them
    const target = this.globGrants.length === 0 ? undefined : registryHostOf(registry)
    if (target !== undefined) {
      for (const { key, tenant: holder } of this.globGrants) {
        if (!credentialKeyMatchesHost(key, target, image.path)) continue
        if (holder === null || holder === tenant) return COVERED
        // a glob host-only key reaching a public registry is no more a claim than a plain one
        if (key.path === '' && this.publicRegistries.has(registry)) continue
        const candidate = { tenant: holder, scope: key.scope, pathLength: key.path.length, glob: true }
        if (owner === undefined || outranks(candidate, owner)) owner = candidate
      }
    }

    if (owner === undefined) return NOT_COVERED
    return { covered: false, foreignOwner: { tenant: owner.tenant, scope: owner.scope } }
  }
}

/** The deterministic choice among claimants: smallest tenant name, then the most specific key. */
function outranks (a: OwnerCandidate, b: OwnerCandidate): boolean {
  if (a.tenant !== b.tenant) return a.tenant < b.tenant
  if (a.pathLength !== b.pathLength) return a.pathLength > b.pathLength
  if (a.glob !== b.glob) return !a.glob
  return a.scope < b.scope
}
