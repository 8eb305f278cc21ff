// What the server and the config share: the server's settings and their defaults, one definition,
// no imports (the config reads it without loading Fastify). A setting has one name from flag to chart
// to code: `tlsCert` is --tls-cert, PULLGUARD_TLS_CERT, settings.tlsCert and ServerSettings.tlsCert.

/** The settings `startServer` reads, under the names `pullguard serve` takes them by. */
export interface ServerSettings {
  host: string
  port: number
  /** plain HTTP /metrics, on `host` too */
  metricsPort: number
  /** PEM certificate file, re-read when it changes; both or neither of tlsCert and tlsKey */
  tlsCert?: string
  tlsKey?: string
  bodyLimitBytes: number
  shutdownDelaySeconds: number
}

// An UPDATE review carries object and oldObject, each up to ~1.5 MiB (etcd's default request limit),
// and the API server itself accepts 3 MiB request bodies; 6 MiB leaves room for the envelope.
// Fastify's default (1 MiB) would refuse legitimate UPDATEs of large Pods.
export const DEFAULT_BODY_LIMIT_BYTES = 6 * 1024 * 1024

// After SIGTERM the API server keeps sending reviews for a while: its endpoint informer takes seconds
// to drop a terminating Pod, and it reuses open keep-alive connections regardless
// (kubernetes/kubernetes#127335). 5 s covers the usual propagation; the chart uses the same default.
export const DEFAULT_SHUTDOWN_DELAY_SECONDS = 5
