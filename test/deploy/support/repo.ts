// Paths and manifest loading for the packaging tests: every file is read from the repository as
// committed, YAML parsed the way kubectl reads it (YAML 1.1, one object per document).

import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments, parse as parseYaml } from 'yaml'

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const CHART = join(ROOT, 'charts/pullguard')

export const repoPath = (path: string): string => join(ROOT, path)
export const readText = (path: string): string => readFileSync(repoPath(path), 'utf8')
export const readYaml = <T = unknown>(path: string): T => parseYaml(readText(path), { version: '1.1' }) as T
export const readJson = <T = unknown>(path: string): T => JSON.parse(readText(path)) as T

export interface ObjectMeta {
  name: string
  namespace?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

/** A Kubernetes object as a manifest holds it; the tests narrow the fields they read. */
export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: ObjectMeta
  [field: string]: unknown
}

export interface Manifest {
  /** repository-relative path */
  file: string
  /** document index within the file */
  index: number
  object: KubeObject
}

/** YAML files below a repository directory, recursively, in a stable order. */
export function yamlFilesUnder (dir: string): string[] {
  const found: string[] = []
  const walk = (absolute: string): void => {
    for (const entry of readdirSync(absolute).sort()) {
      const path = join(absolute, entry)
      if (statSync(path).isDirectory()) walk(path)
      else if (/\.ya?ml$/.test(entry)) found.push(relative(ROOT, path))
    }
  }
  walk(repoPath(dir))
  return found
}

/** Every non-empty document of a multi-document YAML file; parse errors and warnings throw. */
export function loadManifests (file: string): Manifest[] {
  const manifests: Manifest[] = []
  parseAllDocuments(readText(file), { version: '1.1', prettyErrors: true }).forEach((doc, index) => {
    const problems = [...doc.errors, ...doc.warnings]
    if (problems.length > 0) throw new Error(`${file} document ${index}: ${problems.map(p => p.message).join('; ')}`)
    const object = doc.toJS() as unknown
    if (object === null || object === undefined) return
    manifests.push({ file, index, object: object as KubeObject })
  })
  return manifests
}

export const deployManifests = (): Manifest[] => yamlFilesUnder('deploy').flatMap(loadManifests)

/** The one object of a kind (and name, when given) among manifests; throws when absent or ambiguous. */
export function only<T extends KubeObject = KubeObject> (manifests: Manifest[], kind: string, name?: string): T {
  const matches = manifests.filter(m => m.object.kind === kind && (name === undefined || m.object.metadata.name === name))
  if (matches.length !== 1) throw new Error(`expected one ${kind}${name === undefined ? '' : ` ${name}`}, found ${matches.length}`)
  return (matches[0] as Manifest).object as T
}

/** A deep copy of a JSON-shaped value, for tests that mutate fixtures. */
export const clone = <T>(value: T): T => structuredClone(value)
