// Limits the server and the config share: one definition, no imports (the config reads it without
// loading Fastify).

// An UPDATE review carries object and oldObject, each up to ~1.5 MiB (etcd's default request limit),
// and the API server itself accepts 3 MiB request bodies; 6 MiB leaves room for the envelope.
// Fastify's default (1 MiB) would refuse legitimate UPDATEs of large Pods.
export const DEFAULT_BODY_LIMIT_BYTES = 6 * 1024 * 1024
