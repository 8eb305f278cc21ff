import t from 'tap'
import { answerReview, parseAdmissionReview } from '../../src/admission/envelope.js'
import type { AdmissionReview } from '../../src/admission/types.js'
import { podCreateReview } from '../support/cluster.js'

t.test('accepts v1 and v1beta1 reviews', async t => {
  for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']) {
    const review = { ...podCreateReview(), apiVersion }
    const parsed = parseAdmissionReview(review)
    t.ok(parsed.ok, apiVersion)
    if (parsed.ok) t.equal(answerReview(parsed.review, { uid: 'x', allowed: true }).apiVersion, apiVersion, 'answer echoes apiVersion')
  }
})

t.test('rejects what is not an answerable review, saying why', async t => {
  const base = podCreateReview() as unknown as Record<string, unknown>
  const request = base.request as Record<string, unknown>
  const table: Array<[string, unknown, RegExp]> = [
    ['null', null, /not a JSON object/],
    ['an array', [base], /not a JSON object/],
    ['a string', 'AdmissionReview', /not a JSON object/],
    ['unknown apiVersion', { ...base, apiVersion: 'admission.k8s.io/v2' }, /apiVersion must be one of .*got "admission\.k8s\.io\/v2"/],
    ['wrong kind', { ...base, kind: 'Pod' }, /kind must be AdmissionReview/],
    ['no request', { ...base, request: undefined }, /request is missing/],
    ['no uid', { ...base, request: { ...request, uid: undefined } }, /uid is missing/],
    ['empty uid', { ...base, request: { ...request, uid: '' } }, /uid is missing/],
    ['numeric uid', { ...base, request: { ...request, uid: 7 } }, /uid is missing/],
    ['bad operation', { ...base, request: { ...request, operation: 'PATCH' } }, /operation must be one of/],
    ['numeric namespace', { ...base, request: { ...request, namespace: 7 } }, /request\.namespace is not a string/],
    ['array subResource', { ...base, request: { ...request, subResource: ['x'] } }, /request\.subResource is not a string/],
    ['string dryRun', { ...base, request: { ...request, dryRun: 'true' } }, /request\.dryRun is not a boolean/],
    ['string resource', { ...base, request: { ...request, resource: 'pods' } }, /request\.resource is not an object/],
    ['numeric username', { ...base, request: { ...request, userInfo: { username: 5 } } }, /request\.userInfo\.username is not a string/],
    ['string userInfo', { ...base, request: { ...request, userInfo: 'alice' } }, /request\.userInfo is not an object/],
    ['object not an object', { ...base, request: { ...request, object: 'pod' } }, /request\.object is not an object/],
    ['a huge string value is not echoed whole', { ...base, kind: 'x'.repeat(10000) }, /^kind must be AdmissionReview, got "x{64}…"$/]
  ]
  for (const [name, body, pattern] of table) {
    const parsed = parseAdmissionReview(body)
    t.equal(parsed.ok, false, name)
    if (!parsed.ok) t.match(parsed.error, pattern, name)
  }
})

t.test('the answer carries only the response', async t => {
  const review = podCreateReview() as AdmissionReview
  t.same(answerReview(review, { uid: 'u', allowed: true }), { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u', allowed: true } })
})
