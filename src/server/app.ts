// The HTTP envelope around the review service. It knows HTTP, not policy: content type, body size and
// JSON syntax are refused here with 4xx (the API server then applies the webhook's failurePolicy),
// a well-formed review goes to the service in one call, and a bug answers 500 without taking the
// process down.

import { STATUS_CODES } from 'node:http'
import type { ServerOptions as HttpsServerOptions } from 'node:https'
import fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { parseAdmissionReview } from '../admission/envelope.js'
import type { AdmissionRequest } from '../admission/types.js'
import type { Logger } from '../logging.js'
import type { ReviewService } from '../review-service.js'
import { DEFAULT_BODY_LIMIT_BYTES } from './limits.js'
import type { Metrics } from './metrics.js'

export type Reviewer = Pick<ReviewService, 'review'>

export interface AppDeps {
  service: Reviewer
  /** the cluster view has synced: reviews can be answered from it */
  isReady: () => boolean
  /** shutdown has begun: readiness fails so the Service stops routing here */
  isDraining?: () => boolean
  logger: Logger
  metrics: Metrics
  /** largest accepted request body in bytes; DEFAULT_BODY_LIMIT_BYTES when absent */
  bodyLimitBytes?: number
  /** serve HTTPS with these options (cert, key, minVersion); plain HTTP when absent (inject tests) */
  https?: HttpsServerOptions
}


/** Socket and request limits: every one of them stops a slow or silent client from pinning the server. */
export const SERVER_TIMEOUTS = {
  // The API server's webhook client (Go http.Transport via k8s.io/apimachinery SetTransportDefaults)
  // drops idle connections after 90 s. Keeping ours open longer means the client always closes first,
  // so it never reuses a connection we are closing at the same instant (a spurious webhook failure).
  keepAliveTimeoutMs: 120_000,
  // Slowloris: the API server sends its headers at once; a client trickling them gets cut off.
  headersTimeoutMs: 10_000,
  // The whole request must arrive within the longest webhook timeout the API server allows (30 s);
  // past that nobody is waiting for the answer.
  requestTimeoutMs: 30_000,
  // A socket silent this long mid-request is dead. Above 30 s so a slow review is answered, not cut.
  connectionTimeoutMs: 60_000,
  // The API server's TLS handshake timeout is 10 s; half-open handshakes beyond that are not it.
  tlsHandshakeTimeoutMs: 10_000,
  // How often Node enforces headers/request timeouts (default 30 s would let them overrun by that much).
  connectionsCheckingIntervalMs: 5_000
} as const

// Fastify's per-request lines ("incoming request", "request completed") would double the one line per
// review we write ourselves; keep them for debugging only.
class DebugRequestLogs extends LogController {
  override incomingRequest (request: FastifyRequest): void {
    request.log.debug({ reqId: request.id, req: request }, 'incoming request')
  }

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error != null) reply.log.debug({ reqId: request.id, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
    else reply.log.debug({ reqId: request.id, res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}

export function buildApp (deps: AppDeps): FastifyInstance {
  const { service, logger, metrics } = deps
  const isDraining = deps.isDraining ?? (() => false)
  const serverTimeouts = {
    headersTimeout: SERVER_TIMEOUTS.headersTimeoutMs,
    connectionsCheckingInterval: SERVER_TIMEOUTS.connectionsCheckingIntervalMs
  }
  const app = fastify({
    loggerInstance: logger,
    logController: new DebugRequestLogs(),
    // request.log is the process logger itself, not a per-request child: Fastify's child per request
    // measured ~11 µs of JS per request under the bench's load, and reviews log through their own child
    // (reqId, uid, namespace…); other lines name reqId.
    childLoggerFactory: parent => parent,
    bodyLimit: deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    keepAliveTimeout: SERVER_TIMEOUTS.keepAliveTimeoutMs,
    requestTimeout: SERVER_TIMEOUTS.requestTimeoutMs,
    connectionTimeout: SERVER_TIMEOUTS.connectionTimeoutMs,
    // Once close() has begun, a request that still arrives (on a connection busy when the idle ones
    // were closed, or accepted just before) is answered like any other, with Connection: close.
    // Fastify's default answers it 503, which the API server reports as a failed webhook call.
    return503OnClosing: false,
    // close() closes only idle connections (Node's server.close does it too) and waits for the rest;
    // `true` would reset reviews in flight. Fastify's default, stated because the drain relies on it.
    forceCloseConnections: 'idle',
    // No handlerTimeout: every wait in a review has its own budget (namespace lookup, Secret ensure),
    // and Fastify's per-request AbortController cost 10-16 % CPU per review in `npm run bench`.
    // Both are Fastify's defaults; stated because a poisoned body must stay a 400.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    ...(deps.https === undefined
      ? { http: serverTimeouts }
      : { https: { ...serverTimeouts, handshakeTimeout: SERVER_TIMEOUTS.tlsHandshakeTimeoutMs, ...deps.https } })
  }) as unknown as FastifyInstance

  // While draining, retire keep-alive connections one answer at a time: the client opens its next
  // connection elsewhere (our endpoint is leaving the Service), instead of racing our final close.
  // Called where answers are made rather than from an onSend hook, which costs every review ~2 µs.
  const closeIfDraining = (reply: FastifyReply): void => {
    if (isDraining()) reply.header('connection', 'close')
  }

  // Only JSON bodies are parsed: anything else (Fastify also parses text/plain by default), or a body
  // without a Content-Type, is refused with 415 before it is read. Done by the parser table rather
  // than an onRequest hook: same answer, without a hook on every review.
  app.removeContentTypeParser('text/plain')

  // Errors raised before the handler runs (parser, body limit) land here.
  app.setErrorHandler((err: FastifyError, request, reply) => {
    closeIfDraining(reply)
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    const onMutate = request.routeOptions.url === '/mutate'
    if (status < 500) {
      if (onMutate) metrics.admissionRequests.inc({ operation: 'unknown', result: 'rejected' })
      // Fastify refuses a body type it has no parser for with a bare "Unsupported Media Type".
      const reason = err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'Content-Type must be application/json' : err.message
      request.log.info({ reqId: request.id, statusCode: status, code: err.code, reason, contentType: request.headers['content-type'] }, 'request refused')
      return reply.code(status).send(errorBody(status, reason))
    }
    if (onMutate) metrics.admissionRequests.inc({ operation: 'unknown', result: 'error' })
    request.log.error({ reqId: request.id, err, statusCode: status }, 'request failed')
    // Internal messages can carry data from the request: say only what kind of failure it was.
    return reply.code(status).send(errorBody(status, status === 500 ? 'internal error' : (STATUS_CODES[status] ?? 'error')))
  })

  app.setNotFoundHandler((request, reply) => {
    closeIfDraining(reply)
    return reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url.split('?')[0]}`))
  })

  app.post('/mutate', async (request, reply) => {
    closeIfDraining(reply)
    const parsed = parseAdmissionReview(request.body)
    if (!parsed.ok) {
      metrics.admissionRequests.inc({ operation: 'unknown', result: 'rejected' })
      request.log.info({ reqId: request.id, statusCode: 400, reason: parsed.error }, 'request refused')
      return reply.code(400).send(errorBody(400, `not an AdmissionReview: ${parsed.error}`))
    }
    const admission = parsed.review.request as AdmissionRequest
    const { operation } = admission
    // The review's logger, made on first use: at the default level every review logs a line, but at
    // warn almost none does, and a pino child per review would cost them all ~3 µs.
    let reviewLog: Logger | undefined
    const log = (): Logger => (reviewLog ??= logger.child({ reqId: request.id, ...reviewBindings(admission) }))
    if (logger.isLevelEnabled('debug')) log().debug({ review: parsed.review }, 'review received')
    try {
      const outcome = await service.review(parsed.review, { warn: (fields, message) => { log().warn(fields, message) } })
      const durationMs = round(reply.elapsedTime)
      // The connection may have been cut (requestTimeout, client gone): the result has nowhere to go.
      if (reply.sent) {
        log().warn({ decision: outcome.decision, durationMs }, 'review finished after its request was closed')
        return reply
      }
      metrics.admissionRequests.inc({ operation, result: outcome.decision })
      metrics.admissionDuration.observe({ operation }, durationMs / 1000)
      if (logger.isLevelEnabled('info')) log().info({ ...outcome.summary, decision: outcome.decision, durationMs }, 'review')
      if (logger.isLevelEnabled('debug')) log().debug({ response: outcome.response }, 'review answered')
      return reply.code(200).send(outcome.response)
    } catch (err) {
      const durationMs = round(reply.elapsedTime)
      log().error({ err, durationMs }, 'review failed')
      if (reply.sent) return reply
      metrics.admissionRequests.inc({ operation, result: 'error' })
      metrics.admissionDuration.observe({ operation }, durationMs / 1000)
      return reply.code(500).send(errorBody(500, 'internal error'))
    }
  })

  app.get('/healthz', async (_request, reply) => reply.code(200).send({ status: 'ok' }))

  app.get('/readyz', async (_request, reply) => {
    if (isDraining()) return reply.code(503).send({ status: 'shutting down' })
    if (!deps.isReady()) return reply.code(503).send({ status: 'not ready' })
    return reply.code(200).send({ status: 'ready' })
  })

  return app
}

function errorBody (statusCode: number, message: string): { statusCode: number, error: string, message: string } {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

// What identifies a review in every line logged about it. A Pod CREATE with generateName has no name
// yet; the prefix is the next best handle.
function reviewBindings (request: AdmissionRequest): Record<string, string> {
  const metadata = (request.object as { metadata?: { name?: unknown, generateName?: unknown } } | null | undefined)?.metadata
  // Only uid and operation are validated by the envelope: take the rest only when it is a string.
  const namespace = stringOrUndefined(request.namespace)
  const name = stringOrUndefined(request.name) ?? stringOrUndefined(metadata?.name)
  const generateName = name === undefined ? stringOrUndefined(metadata?.generateName) : undefined
  const subResource = stringOrUndefined(request.subResource)
  return {
    uid: request.uid,
    operation: request.operation,
    ...(namespace !== undefined && { namespace }),
    ...(name !== undefined && { name }),
    ...(generateName !== undefined && { generateName }),
    ...(subResource !== undefined && { subResource })
  }
}

function stringOrUndefined (value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

function round (ms: number): number {
  return Math.round(ms * 1000) / 1000
}
