// One review, end to end, for both `pullguard review` and `pullguard serve`: make sure the cluster view
// knows the namespace, decide, then ensure the managed Secret the decision asks for. The decision
// itself stays pure; the I/O around it lives here, each step bounded by a timeout.

import { decide, type Decision, type DecisionKind } from './admission/decide.js'
import { answerReview } from './admission/envelope.js'
import type { AdmissionOptions } from './admission/options.js'
import type { AdmissionResponse, AdmissionReview } from './admission/types.js'
import { WARNINGS } from './admission/warnings.js'
import type { ClusterView } from './cluster/view.js'

export interface ReviewTimeouts {
  /** live GET of a namespace the cache has not seen yet */
  namespaceLookupTimeoutMs: number
  /** admission-time create/update of the managed Secret */
  ensureTimeoutMs: number
}

export const DEFAULT_REVIEW_TIMEOUTS: ReviewTimeouts = { namespaceLookupTimeoutMs: 1000, ensureTimeoutMs: 2000 }

/** Where a review reports what went wrong around it; a pino Logger is one. */
export interface ReviewLog {
  warn (fields: object, message: string): void
}

export interface ReviewOutcome {
  /** the full answer, apiVersion echoed */
  response: AdmissionReview
  decision: DecisionKind
  /** loggable facts, never credentials */
  summary: Decision['summary'] & { secret?: string }
}

export class ReviewService {
  constructor (
    private readonly view: ClusterView,
    private readonly options: AdmissionOptions,
    private readonly timeouts: ReviewTimeouts = DEFAULT_REVIEW_TIMEOUTS
  ) {}

  /** Answers a review already validated by parseAdmissionReview. Policy outcomes never reject. */
  async review (review: AdmissionReview, log: ReviewLog): Promise<ReviewOutcome> {
    const request = review.request
    if (request === undefined) throw new TypeError('review without request: validate with parseAdmissionReview first')

    const namespace = request.namespace
    if (namespace !== undefined && request.resource?.resource === 'pods' &&
        this.view.snapshot().tenantOf(namespace) === undefined) {
      await this.view.lookupNamespace(namespace, this.timeouts.namespaceLookupTimeoutMs)
    }

    const decision = decide(request, this.view.snapshot(), this.options)
    let response = decision.response
    let secret: string | undefined
    if (decision.ensureSecret !== undefined) {
      const result = await this.view.ensureManagedSecret(decision.ensureSecret, this.timeouts.ensureTimeoutMs)
      secret = result.outcome
      if (result.outcome === 'conflict' || result.outcome === 'failed') {
        // The reference stays injected: the kubelet re-reads pull secrets on every retry, so the Pod
        // starts once the reconciler (or an admin, for a conflict) puts the Secret in place.
        log.warn({ namespace, outcome: result.outcome, reason: result.message }, 'managed secret not ensured at admission')
        response = withWarning(response, result.outcome === 'conflict'
          ? WARNINGS.managedSecretConflict(this.options.managedSecretName)
          : WARNINGS.managedSecretNotReady(this.options.managedSecretName))
      }
    }
    return {
      response: answerReview(review, response),
      decision: decision.summary.decision,
      summary: { ...decision.summary, ...(secret !== undefined && { secret }) }
    }
  }
}

function withWarning (response: AdmissionResponse, warning: string): AdmissionResponse {
  return { ...response, warnings: [...(response.warnings ?? []), warning] }
}
