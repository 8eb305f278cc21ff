// Live mode's token minter, on the leader only: reads token sources and derived Secrets from the
// credentials informer's events, asks planRefresh() what is due, mints with pullguard's own identity
// and writes (or deletes) the derived dockerconfigjson Secrets. Everything downstream, the merge
// into each tenant's managed Secret included, is the ordinary credential path.

import * as k8s from '@kubernetes/client-node'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { CredentialSourceOptions, SecretObject } from '../../../admission/credentials.js'
import type { Logger } from '../../../logging.js'
import { backoffDelayMs, type Backoff } from '../backoff.js'
import { SYSTEM_CLOCK, type Clock, type TimerHandle } from '../clock.js'
import { apiFailure, isStatus, withTimeout } from '../kube-client.js'
import { derivedSecretBody, derivedSecretName, readDerivedToken, refreshAtMs, type DerivedToken } from './derived-token.js'
import { loadProvider } from './providers/load-provider.js'
import { MintError, type Mint, type ProviderEnvironment } from './providers/provider.js'
import { planRefresh, type MintAttempts } from './refresh-plan.js'
import { readTokenSource, type ExecSettings, type ProviderName, type TokenSource, type TokenSourceReading } from '../../tokens/token-source.js'

export interface TokenMinterTuning {
  /** a failed mint is retried after this, doubling per consecutive failure, capped */
  retry: Backoff
  /** one mint, all its provider calls included */
  mintTimeoutMs: number
  /** one write or delete of a derived Secret */
  callTimeoutMs: number
  /** service-account-token mode: the TokenRequest's lifetime (the API server's minimum is 600) */
  serviceAccountTokenSeconds: number
}

export const DEFAULT_TOKEN_MINTER_TUNING: TokenMinterTuning = {
  // 5 s doubling to 5 min: an ECR token has 6 h of refresh margin, a Google one 30 min
  retry: { baseDelayMs: 5_000, maxDelayMs: 5 * 60_000, jitter: 0.2 },
  mintTimeoutMs: 90_000,
  callTimeoutMs: 10_000,
  serviceAccountTokenSeconds: 600
}

export interface TokenMinterOptions {
  core: k8s.CoreV1Api
  options: CredentialSourceOptions
  /** the model's namespace → tenant: a ServiceAccount token is requested only in the source's tenant's namespaces */
  tenantOf: (namespace: string) => string | null | undefined
  /** the credentials cache is synced and fresh: no write is made from a stale one */
  inputsFresh: () => boolean
  /** while the credentials cache is stale, look again this often */
  staleRecheckMs: number
  environment: ProviderEnvironment
  logger: Logger
  registry: Registry
  tuning?: Partial<TokenMinterTuning>
  /** timers; SYSTEM_CLOCK by default */
  clock?: Clock
  /** wall time in epoch ms (token expiries are wall times); Date.now by default */
  epochMs?: () => number
  random?: () => number
}

type Reading = Exclude<TokenSourceReading, { kind: 'ignored' }>

export class TokenMinter {
  private readonly log: Logger
  private readonly tuning: TokenMinterTuning
  private readonly clock: Clock
  private readonly epochMs: () => number
  private readonly random: () => number
  private readonly sources = new Map<string, Reading>()
  private readonly derived = new Map<string, DerivedToken>()
  /** what our own writes left, until the cache shows that version (or any delete): null = deleted */
  private readonly written = new Map<string, DerivedToken | null>()
  private readonly attempts = new Map<string, MintAttempts>()
  private readonly minting = new Map<string, Promise<void>>()
  private readonly removing = new Set<string>()
  private readonly providers = new Map<ProviderName, Promise<Mint>>()
  /** `name@resourceVersion` of the last unusable version reported per source */
  private readonly reported = new Map<string, string>()
  private readonly refreshes: Counter<'provider' | 'result'>
  private leading = false
  private planScheduled = false
  private timer: TimerHandle | undefined
  private stopping = new AbortController()

  constructor (private readonly deps: TokenMinterOptions) {
    this.log = deps.logger.child({ component: 'token-minter' })
    this.tuning = { ...DEFAULT_TOKEN_MINTER_TUNING, ...deps.tuning }
    this.clock = deps.clock ?? SYSTEM_CLOCK
    this.epochMs = deps.epochMs ?? Date.now
    this.random = deps.random ?? Math.random
    const tokens = (): Iterable<DerivedToken> => this.currentTokens()
    new Gauge({
      name: 'pullguard_credential_token_expiry_timestamp_seconds',
      help: 'When the token derived from a token source expires (epoch seconds), as the derived Secret says',
      labelNames: ['source', 'provider'] as const,
      registers: [deps.registry],
      collect () {
        this.reset()
        for (const token of tokens()) this.set({ source: token.source, provider: token.provider }, token.expiresAtMs / 1000)
      }
    })
    this.refreshes = new Counter({
      name: 'pullguard_credential_token_refreshes_total',
      help: 'Token mints (first and refreshes) by provider and result (success, failure)',
      labelNames: ['provider', 'result'] as const,
      registers: [deps.registry]
    })
  }

  /** a Secret of the credentials namespace was added, changed or deleted (every replica sees these) */
  secretChanged (event: 'add' | 'update' | 'delete', secret: SecretObject): void {
    const name = secret.metadata?.name
    if (name === undefined) return
    const reading = event === 'delete' ? { kind: 'ignored' as const } : readTokenSource(secret, this.deps.options)
    if (reading.kind === 'ignored') this.sources.delete(name)
    else {
      this.sources.set(name, reading)
      this.report(reading, secret.metadata?.resourceVersion ?? '')
    }
    const token = event === 'delete' ? undefined : readDerivedToken(secret, this.deps.options)
    if (token === undefined) this.derived.delete(name)
    else this.derived.set(name, token)
    const mine = this.written.get(name)
    if (mine !== undefined && (event === 'delete' || mine?.resourceVersion === secret.metadata?.resourceVersion || mine === null)) this.written.delete(name)
    this.schedule()
  }

  get hasSources (): boolean {
    return this.sources.size > 0
  }

  lead (): void {
    if (this.leading) return
    this.leading = true
    this.stopping = new AbortController()
    this.log.info({ sources: this.sources.size }, 'minting tokens for token sources')
    this.schedule()
  }

  /** stops minting; mints under way are aborted and awaited, their results not written */
  async follow (): Promise<void> {
    if (!this.leading) return
    this.leading = false
    this.clock.clearTimeout(this.timer)
    this.stopping.abort()
    await Promise.allSettled([...this.minting.values()])
    this.written.clear()
    this.attempts.clear()
  }

  async stop (): Promise<void> {
    await this.follow()
  }

  private report (reading: Reading, version: string): void {
    const name = reading.kind === 'source' ? reading.source.name : reading.name
    if (reading.kind === 'source') {
      this.reported.delete(name)
      return
    }
    if (this.reported.get(name) === version) return
    this.reported.set(name, version)
    this.log.warn({ secret: name, tenant: reading.owner, reason: reading.reason }, 'token source unusable: its current token (if any) is kept until it expires')
  }

  /** the derived tokens as the cache has them, overlaid with our own writes not seen there yet */
  private * currentTokens (): Iterable<DerivedToken> {
    for (const [name, token] of this.derived) if (!this.written.has(name)) yield token
    for (const token of this.written.values()) if (token !== null) yield token
  }

  /** one derived token as currentTokens() has it */
  private currentToken (name: string): DerivedToken | undefined {
    return this.written.has(name) ? this.written.get(name) ?? undefined : this.derived.get(name)
  }

  private schedule (): void {
    if (!this.leading || this.planScheduled) return
    this.planScheduled = true
    // a relist delivers a batch of events synchronously: plan once after it
    queueMicrotask(() => {
      this.planScheduled = false
      this.runPlan()
    })
  }

  private runPlan (): void {
    if (!this.leading) return
    this.clock.clearTimeout(this.timer)
    if (!this.deps.inputsFresh()) {
      this.timer = this.clock.setTimeout(() => this.runPlan(), this.deps.staleRecheckMs)
      return
    }
    const nowMs = this.epochMs()
    const plan = planRefresh({
      sources: [...this.sources.values()],
      derived: [...this.currentTokens()],
      attempts: this.attempts,
      minting: new Set(this.minting.keys()),
      nowMs
    })
    for (const { token, reason } of plan.remove) this.remove(token, reason)
    for (const source of plan.mint) this.mint(source)
    if (plan.nextWakeMs !== undefined) this.timer = this.clock.setTimeout(() => this.runPlan(), Math.max(0, plan.nextWakeMs - nowMs))
  }

  private remove (token: DerivedToken, reason: string): void {
    if (this.removing.has(token.secretName)) return
    this.removing.add(token.secretName)
    const { credentialsNamespace: namespace } = this.deps.options
    this.deps.core.deleteNamespacedSecret({ name: token.secretName, namespace, body: { preconditions: { resourceVersion: token.resourceVersion } } },
      withTimeout(this.tuning.callTimeoutMs))
      .then(() => {
        this.written.set(token.secretName, null)
        this.log.info({ secret: token.secretName, source: token.source, reason }, 'derived token Secret deleted')
      }, (err: unknown) => {
        if (isStatus(err, 404)) this.written.set(token.secretName, null)
        else if (!isStatus(err, 409)) this.log.warn({ secret: token.secretName, error: apiFailure(err) }, 'could not delete a derived token Secret; retrying')
      })
      .finally(() => {
        this.removing.delete(token.secretName)
        this.schedule()
      })
  }

  private mint (source: TokenSource): void {
    const run = this.mintAndWrite(source).finally(() => {
      this.minting.delete(source.name)
      this.schedule()
    })
    this.minting.set(source.name, run)
  }

  private async mintAndWrite (source: TokenSource): Promise<void> {
    const { provider } = source.settings
    const log = this.log.child({ source: source.name, tenant: source.owner, provider })
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.tuning.mintTimeoutMs)])
    const mintedAtMs = this.epochMs()
    try {
      const mint = await this.provider(provider)
      const token = await mint(source.settings, { source, signal, nowMs: mintedAtMs, serviceAccountToken: account => this.serviceAccountToken(source, account) })
      if (!this.leading) return
      if (token.expiresAtMs <= this.epochMs()) throw new MintError('the token minted has already expired')
      const name = derivedSecretName(source.name)
      const existing = this.currentToken(name)
      const body = derivedSecretBody({
        source,
        token,
        mintedAtMs,
        refreshAtMs: refreshAtMs(mintedAtMs, token.expiresAtMs, this.random()),
        ...(existing != null && { resourceVersion: existing.resourceVersion })
      }, this.deps.options)
      const written = await this.write(name, body as k8s.V1Secret, existing != null)
      const stored = readDerivedToken(written as SecretObject, this.deps.options)
      if (stored !== undefined) this.written.set(name, stored)
      this.attempts.delete(source.name)
      this.refreshes.inc({ provider, result: 'success' })
      log.info({ secret: name, expiresAt: new Date(token.expiresAtMs).toISOString(), registries: Object.keys(token.logins).length }, existing != null ? 'token refreshed' : 'token minted')
    } catch (err) {
      if (!this.leading) return
      if (isStatus(err, 409)) {
        // the cache was behind: its event brings the current version and a new plan
        log.debug('derived token Secret changed under the write; planning again')
        return
      }
      const previous = this.attempts.get(source.name)
      const failures = (previous?.sourceVersion === source.version ? previous.failures : 0) + 1
      const delayMs = backoffDelayMs({ failures, ...this.tuning.retry }, this.random)
      this.attempts.set(source.name, { sourceVersion: source.version, failures, retryAtMs: this.epochMs() + delayMs })
      this.refreshes.inc({ provider, result: 'failure' })
      const current = this.currentToken(derivedSecretName(source.name))
      log.warn({
        error: failureMessage(err),
        failures,
        retryInMs: delayMs,
        ...(current != null && { currentTokenExpiresAt: new Date(current.expiresAtMs).toISOString() })
      }, current != null ? 'token refresh failed: the current token stays until it expires' : 'token mint failed')
    }
  }

  private provider (name: ProviderName): Promise<Mint> {
    let loaded = this.providers.get(name)
    if (loaded === undefined) {
      loaded = loadProvider(name, this.deps.environment)
      // a failed import (a module missing from the image) is retried with the next mint
      loaded.catch(() => this.providers.delete(name))
      this.providers.set(name, loaded)
    }
    return loaded
  }

  private async write (name: string, body: k8s.V1Secret, replace: boolean): Promise<k8s.V1Secret> {
    const namespace = this.deps.options.credentialsNamespace
    const options = withTimeout(this.tuning.callTimeoutMs)
    if (replace) return this.deps.core.replaceNamespacedSecret({ name, namespace, body }, options)
    try {
      return await this.deps.core.createNamespacedSecret({ namespace, body }, options)
    } catch (err) {
      if (!isStatus(err, 409)) throw err
      // A Secret of that name that we did not derive (an admin's own) is not ours to overwrite.
      if (this.derived.has(name)) throw err
      throw new MintError(`a Secret named ${name} exists in ${namespace} and is not derived from this source; rename one of them`)
    }
  }

  private async serviceAccountToken (source: TokenSource, account: NonNullable<ExecSettings['serviceAccount']>): Promise<string> {
    // The tenant label decides which namespaces are the tenant's: never mint for another tenant's account.
    const tenant = this.deps.tenantOf(account.namespace)
    if (source.owner === null || tenant !== source.owner) {
      throw new MintError(`namespace ${account.namespace} is not a namespace of tenant ${source.owner ?? '(shared)'}`)
    }
    try {
      const answer = await this.deps.core.createNamespacedServiceAccountToken({
        name: account.name,
        namespace: account.namespace,
        body: { spec: { audiences: [account.audience], expirationSeconds: this.tuning.serviceAccountTokenSeconds } }
      }, withTimeout(this.tuning.callTimeoutMs))
      const token = answer.status?.token
      if (token === undefined || token === '') throw new MintError('TokenRequest returned no token')
      return token
    } catch (err) {
      if (err instanceof MintError) throw err
      const failure = apiFailure(err)
      throw new MintError(`TokenRequest for ${account.namespace}/${account.name}: ${failure.message}`)
    }
  }
}

/** what a failed mint says in the log: our MintErrors are written to be safe; anything else by name */
function failureMessage (err: unknown): string {
  if (err instanceof MintError) return err.message
  if (err instanceof k8s.ApiException) return apiFailure(err).message
  if (err instanceof Error) return `${err.name}: ${err.message.slice(0, 200)}`
  return 'unknown error'
}
