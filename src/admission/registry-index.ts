// Which tenants' credentials cover which registry paths: built once per cluster snapshot, asked once
// per container image on every admission review. A lookup probes one map entry per distinct key-path
// length on the image's registry, so its cost does not grow with the number of tenants or keys; only
// keys with a '*' in the host are tried one by one, and those are rare.
//
// Each entry answers two different questions, kept apart on purpose (see ImageCoverage): who the
// kubelet gives credentials to (ports as written) and who owns the path (':443' is no port).

import {
  canonicalRegistry, credentialKeyClaimsHost, credentialKeyMatchesHost, ownerRegistryOf, ownerScopeOf,
  parseCredentialKey, registryHostOf, registryOfKey, safeKeyScope, type CredentialKey
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
  /** the owning key, normalised: owner host[:port][/path] (no ':443', no user-info or query) */
  scope: string
}

/**
 * Two answers that look alike and must not be merged. `covered` is the kubelet's view: a key of the
 * tenant's own or a shared key matches the image with ports compared literally, so the managed
 * Secret really gives the pull credentials. `foreignOwner` is the ownership view, where ':443' is no
 * port, so that `registry.acme.example:443/app` stays acme's even though acme's key
 * `registry.acme.example` does not match it for the kubelet.
 */
export interface ImageCoverage {
  /** a key of the tenant's own or a shared key matches the image, as the kubelet matches */
  covered: boolean
  /** when not covered and the tenant claims none of it: the tenant whose key claims the image (smallest name, then most specific key) */
  foreignOwner?: ForeignOwner
}

/**
 * Tenant names; most prefixes have exactly one, kept as the bare string: a Set per prefix made
 * garbage collection most of the build time on 10,000 tenants.
 */
type Tenants = string | Set<string>

/** Who the kubelet hands a key for one registry spelling and path prefix to. */
interface Holders {
  shared: boolean
  /** undefined: only shared keys */
  tenants: Tenants | undefined
}

/** Every key on one owner registry (ownerRegistryOf) and path prefix. */
interface PrefixEntry extends Holders {
  // Holders itself: keys spelled as the owner registry is, the usual case
  /** keys in another spelling of it (':443', ':0443', 'index.docker.io:443'), by canonicalRegistry */
  spellings: Map<string, Holders> | undefined
  /** tenants whose keys here confer ownership (not shared keys, not host-only keys on public registries) */
  claimants: Tenants | undefined
  /** smallest claimant */
  owner: string | undefined
  /** ownerScopeOf, the same for every key here */
  scope: string
}

interface RegistryPrefixes {
  byPrefix: Map<string, PrefixEntry>
  /** distinct key-path lengths, longest first */
  lengths: number[]
}

interface GlobGrant {
  key: CredentialKey
  tenant: string | null
  /** ownerScopeOf(key) */
  scope: string
}

interface OwnerCandidate extends ForeignOwner {
  pathLength: number
  glob: boolean
}

const COVERED: ImageCoverage = Object.freeze({ covered: true })
const NOT_COVERED: ImageCoverage = Object.freeze({ covered: false })

export class RegistryIndex {
  /** keys that can never match an image (unparseable), by safeKeyScope; skipped, listed once each for warnings */
  readonly invalidKeys: readonly string[]
  /** by owner registry */
  private readonly registries: ReadonlyMap<string, RegistryPrefixes>
  private readonly globGrants: readonly GlobGrant[]
  /** owner registries */
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
      if (key !== undefined && !key.hasGlob) publics.add(ownerRegistryOf(registryOfKey(key)))
    }

    const registries = new Map<string, RegistryPrefixes>()
    const globGrants: GlobGrant[] = []
    const invalidKeys = new Set<string>()
    for (const { key: raw, tenant } of grants) {
      const key = parseCredentialKey(raw)
      if (key === undefined) {
        invalidKeys.add(safeKeyScope(raw))
        continue
      }
      if (key.hasGlob) {
        globGrants.push({ key, tenant, scope: ownerScopeOf(key) })
        continue
      }

      const spelling = registryOfKey(key)
      const registry = ownerRegistryOf(spelling)
      const entry = entryFor(registries, registry, key)
      const holders = spelling === registry ? entry : holdersOf(entry, spelling)
      if (tenant === null) {
        holders.shared = true
        continue
      }
      holders.tenants = withTenant(holders.tenants, tenant)
      if (key.path === '' && publics.has(registry)) continue
      entry.claimants = withTenant(entry.claimants, tenant)
      if (entry.owner === undefined || tenant < entry.owner) entry.owner = tenant
    }
    for (const prefixes of registries.values()) prefixes.lengths.sort((a, b) => b - a)

    return new RegistryIndex(registries, globGrants, publics, Object.freeze([...invalidKeys]))
  }

  static readonly EMPTY: RegistryIndex = RegistryIndex.build([], [])

  /** Whether the tenant's credentials cover the image, and if not, which other tenant claims it. */
  lookup (image: ImageName, tenant: string): ImageCoverage {
    const spelling = canonicalRegistry(image.registry)
    const registry = ownerRegistryOf(spelling)
    let owner: OwnerCandidate | undefined
    // the tenant claims the image itself, in a spelling the kubelet does not match: not foreign
    let ownClaim = false

    // only the prefixes of the image path whose lengths some key on this registry has
    const prefixes = this.registries.get(registry)
    if (prefixes !== undefined) {
      for (const length of prefixes.lengths) {
        if (length > image.path.length) continue
        const entry = prefixes.byPrefix.get(image.path.slice(0, length))
        if (entry === undefined) continue
        const holders = spelling === registry ? entry : entry.spellings?.get(spelling)
        if (holders !== undefined && (holders.shared || hasTenant(holders.tenants, tenant))) return COVERED
        if (entry.owner === undefined || ownClaim) continue
        if (hasTenant(entry.claimants, tenant)) {
          ownClaim = true
          continue
        }
        const candidate = { tenant: entry.owner, scope: entry.scope, pathLength: length, glob: false }
        if (owner === undefined || outranks(candidate, owner)) owner = candidate
      }
    }

    // glob keys one by one; the image's registry is split once for all of them
    if (this.globGrants.length > 0) {
      const target = registryHostOf(spelling)
      const ownerTarget = registryHostOf(registry)
      for (const { key, tenant: holder, scope } of this.globGrants) {
        if (target !== undefined && (holder === null || holder === tenant) && credentialKeyMatchesHost(key, target, image.path)) return COVERED
        if (holder === null || ownClaim || ownerTarget === undefined || !credentialKeyClaimsHost(key, ownerTarget, image.path)) continue
        // a glob host-only key reaching a public registry is no more a claim than a plain one
        if (key.path === '' && this.publicRegistries.has(registry)) continue
        if (holder === tenant) {
          ownClaim = true
          continue
        }
        const candidate = { tenant: holder, scope, pathLength: key.path.length, glob: true }
        if (owner === undefined || outranks(candidate, owner)) owner = candidate
      }
    }

    if (ownClaim || owner === undefined) return NOT_COVERED
    return { covered: false, foreignOwner: { tenant: owner.tenant, scope: owner.scope } }
  }
}

/** The entry for the key's owner registry and path, created (and its length recorded) on first use. */
function entryFor (registries: Map<string, RegistryPrefixes>, registry: string, key: CredentialKey): PrefixEntry {
  let prefixes = registries.get(registry)
  if (prefixes === undefined) {
    prefixes = { byPrefix: new Map(), lengths: [] }
    registries.set(registry, prefixes)
  }
  let entry = prefixes.byPrefix.get(key.path)
  if (entry === undefined) {
    entry = { shared: false, tenants: undefined, spellings: undefined, claimants: undefined, owner: undefined, scope: ownerScopeOf(key) }
    prefixes.byPrefix.set(key.path, entry)
    if (!prefixes.lengths.includes(key.path.length)) prefixes.lengths.push(key.path.length)
  }
  return entry
}

function holdersOf (entry: PrefixEntry, spelling: string): Holders {
  entry.spellings ??= new Map()
  let holders = entry.spellings.get(spelling)
  if (holders === undefined) {
    holders = { shared: false, tenants: undefined }
    entry.spellings.set(spelling, holders)
  }
  return holders
}

function withTenant (tenants: Tenants | undefined, tenant: string): Tenants {
  if (tenants === undefined || tenants === tenant) return tenant
  if (typeof tenants === 'string') return new Set([tenants, tenant])
  return tenants.add(tenant)
}

function hasTenant (tenants: Tenants | undefined, tenant: string): boolean {
  return typeof tenants === 'string' ? tenants === tenant : tenants?.has(tenant) === true
}

/** The deterministic choice among claimants: smallest tenant name, then the most specific key. */
function outranks (a: OwnerCandidate, b: OwnerCandidate): boolean {
  if (a.tenant !== b.tenant) return a.tenant < b.tenant
  if (a.pathLength !== b.pathLength) return a.pathLength > b.pathLength
  if (a.glob !== b.glob) return !a.glob
  return a.scope < b.scope
}
