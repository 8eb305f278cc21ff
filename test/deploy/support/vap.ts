// Evaluates a ValidatingAdmissionPolicy and its binding the way the API server does, with
// @marcbachmann/cel-js: match rules and the binding's namespaceSelector, then matchConditions,
// then variables in order (each may use the ones before), then every validation. The variables
// the API server binds are object, oldObject (null on CREATE), request, namespaceObject, params
// (unused by pullguard) and variables. The webhook's rules, selectors and matchConditions are matched
// by the same code so the tests can show both cover the same requests.

import { Environment } from '@marcbachmann/cel-js'
import type { KubeObject } from './repo.js'

export interface AdmissionAttributes {
  request: {
    operation: string
    resource: { group: string, version: string, resource: string }
    subResource?: string
    namespace?: string
    name?: string
    userInfo: { username: string, groups?: string[] }
    [field: string]: unknown
  }
  object: unknown
  oldObject: unknown
  /** the request's namespace, as the API server looks it up (null for cluster-scoped requests) */
  namespaceObject: unknown
}

export interface PolicyResult {
  /** the rules, the binding's selector and every matchCondition matched */
  matched: boolean
  allowed: boolean
  messages: string[]
  variables: Record<string, unknown>
}

interface Rule {
  operations: string[]
  apiGroups: string[]
  apiVersions: string[]
  resources: string[]
}

interface Expression {
  name?: string
  expression: string
}

interface Validation {
  expression: string
  message?: string
  messageExpression?: string
  reason?: string
}

interface LabelSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: Array<{ key: string, operator: string, values?: string[] }>
}

export interface PolicySpec {
  matchConstraints: { resourceRules: Rule[] }
  matchConditions?: Expression[]
  variables?: Array<Required<Expression>>
  validations: Validation[]
}

/** Kubernetes' CEL environment as far as pullguard's policies use it (object/oldObject are dyn there too). */
export const celEnvironment = new Environment({ homogeneousAggregateLiterals: true })
  .registerVariable('object', 'dyn')
  .registerVariable('oldObject', 'dyn')
  .registerVariable('request', 'dyn')
  .registerVariable('namespaceObject', 'dyn')
  .registerVariable('params', 'dyn')
  .registerVariable('variables', 'map')

/** What a webhook's matchConditions see: object, oldObject and request (and an authorizer pullguard does not use). */
export const webhookCelEnvironment = new Environment({ homogeneousAggregateLiterals: true })
  .registerVariable('object', 'dyn')
  .registerVariable('oldObject', 'dyn')
  .registerVariable('request', 'dyn')

export interface WebhookSpec {
  rules: Rule[]
  namespaceSelector?: LabelSelector
  objectSelector?: LabelSelector
  matchConditions?: Expression[]
}

export function policySpec (policy: KubeObject): PolicySpec {
  return policy.spec as PolicySpec
}

/** Every CEL expression of a policy, named by where it sits. */
export function expressionsOf (policy: KubeObject): Array<{ where: string, expression: string, returns: 'bool' | 'string' | 'any' }> {
  const spec = policySpec(policy)
  return [
    ...(spec.matchConditions ?? []).map(c => ({ where: `matchConditions.${c.name ?? '?'}`, expression: c.expression, returns: 'bool' as const })),
    ...(spec.variables ?? []).map(v => ({ where: `variables.${v.name}`, expression: v.expression, returns: 'any' as const })),
    ...spec.validations.flatMap((v, i) => [
      { where: `validations[${i}].expression`, expression: v.expression, returns: 'bool' as const },
      ...(v.messageExpression === undefined ? [] : [{ where: `validations[${i}].messageExpression`, expression: v.messageExpression, returns: 'string' as const }])
    ])
  ]
}

export function rulesMatch (rules: Rule[], request: AdmissionAttributes['request']): boolean {
  const resource = request.subResource === undefined || request.subResource === ''
    ? request.resource.resource
    : `${request.resource.resource}/${request.subResource}`
  const has = (list: string[], value: string): boolean => list.includes('*') || list.includes(value)
  return rules.some(rule =>
    has(rule.operations, request.operation) &&
    has(rule.apiGroups, request.resource.group) &&
    has(rule.apiVersions, request.resource.version) &&
    (has(rule.resources, resource) || rule.resources.includes(`${request.resource.resource}/*`)))
}

export function selectorMatches (selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined) return true
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(labels, key)
    const ok = operator === 'In'
      ? present && values.includes(labels[key] as string)
      : operator === 'NotIn'
        ? !present || !values.includes(labels[key] as string)
        : operator === 'Exists' ? present : !present
    if (!ok) return false
  }
  return true
}

const labelsOf = (object: unknown): Record<string, string> =>
  ((object as { metadata?: { labels?: Record<string, string> } } | null)?.metadata?.labels) ?? {}

/** The labels a namespaceSelector is matched against: the namespace, or the Namespace itself. */
function namespaceLabels (attributes: AdmissionAttributes): Record<string, string> {
  return attributes.request.resource.resource === 'namespaces'
    ? labelsOf(attributes.object ?? attributes.oldObject)
    : labelsOf(attributes.namespaceObject)
}

/** Whether a MutatingWebhookConfiguration's webhook would be called for a request. */
export function webhookMatches (webhook: WebhookSpec, attributes: AdmissionAttributes): boolean {
  return rulesMatch(webhook.rules, attributes.request) &&
    selectorMatches(webhook.namespaceSelector, namespaceLabels(attributes)) &&
    selectorMatches(webhook.objectSelector, labelsOf(attributes.object ?? attributes.oldObject)) &&
    (webhook.matchConditions ?? []).every(condition => matchConditionHolds(condition, attributes))
}

/**
 * One webhook matchCondition. An error would make the API server apply the webhook's failurePolicy
 * (Ignore: pullguard is skipped), so here it throws: no request the API server can send may cause one.
 */
export function matchConditionHolds (condition: Expression, attributes: AdmissionAttributes): boolean {
  const context = { object: attributes.object ?? null, oldObject: attributes.oldObject ?? null, request: attributes.request }
  const result = webhookCelEnvironment.evaluate(condition.expression, context) as unknown
  if (typeof result !== 'boolean') throw new Error(`matchCondition ${condition.name ?? '?'} returned ${typeof result}`)
  return result
}

/** Evaluates a policy for one request. `overrides` replaces variable expressions by name, the way other values would render them. */
export function evaluatePolicy (
  policy: KubeObject,
  binding: KubeObject | undefined,
  attributes: AdmissionAttributes,
  overrides: Record<string, string> = {}
): PolicyResult {
  const spec = policySpec(policy)
  const variables: Record<string, unknown> = {}
  const notMatched: PolicyResult = { matched: false, allowed: true, messages: [], variables }
  if (!rulesMatch(spec.matchConstraints.resourceRules, attributes.request)) return notMatched
  const bindingResources = (binding?.spec as { matchResources?: { namespaceSelector?: LabelSelector } } | undefined)?.matchResources
  if (!selectorMatches(bindingResources?.namespaceSelector, namespaceLabels(attributes))) return notMatched

  const context = {
    object: attributes.object ?? null,
    oldObject: attributes.oldObject ?? null,
    request: attributes.request,
    namespaceObject: attributes.namespaceObject ?? null,
    params: null,
    variables
  }
  for (const condition of spec.matchConditions ?? []) {
    if (celEnvironment.evaluate(condition.expression, context) !== true) return notMatched
  }
  for (const variable of spec.variables ?? []) {
    variables[variable.name] = celEnvironment.evaluate(overrides[variable.name] ?? variable.expression, context)
  }
  const messages: string[] = []
  for (const validation of spec.validations) {
    const passed = celEnvironment.evaluate(validation.expression, context)
    if (typeof passed !== 'boolean') throw new Error(`validation ${validation.expression} returned ${typeof passed}`)
    if (passed) continue
    const message = validation.messageExpression === undefined
      ? undefined
      : celEnvironment.evaluate(validation.messageExpression, context) as unknown
    messages.push(typeof message === 'string' && message !== '' ? message : validation.message ?? `failed: ${validation.expression}`)
  }
  return { matched: true, allowed: messages.length === 0, messages, variables }
}

/** Function and macro names a CEL expression calls, string literals ignored. */
export function calledFunctions (expression: string): string[] {
  const code = expression.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, '""')
  return [...new Set([...code.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*\(/g)].map(m => m[1] as string))].sort()
}
