// The layering, enforced by `npm run lint`: imports point inward. The admission core imports
// nothing of ours; the cluster views implement its ports and know nothing of the server, config or
// CLI; the server serves any view; config reads only the core's types; the CLI wires it all.
// Type-only imports count too: a type pulled the wrong way is the start of a wrong-way dependency.

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'admission-is-the-core',
      comment: 'src/admission is the pure decision: it imports only itself (and node builtins)',
      severity: 'error',
      from: { path: '^src/admission/' },
      to: { path: '^src/', pathNot: '^src/admission/' }
    },
    {
      name: 'cluster-knows-only-the-core',
      comment: 'the cluster views take options and a metrics registry, not Config or the server',
      severity: 'error',
      from: { path: '^src/cluster/' },
      to: { path: '^src/(server|config|cli)/|^src/review-service\\.ts$' }
    },
    {
      name: 'static-view-stays-light',
      comment: 'standalone mode must not load @kubernetes/client-node (~75 MB of RSS)',
      severity: 'error',
      from: { path: '^src/cluster/(?!live/)' },
      to: { path: '^src/cluster/live/|@kubernetes/client-node' }
    },
    {
      name: 'server-serves-any-view',
      comment: 'the server sees the ClusterView port, never a view implementation, config or the CLI',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/(config|cli)/|^src/cluster/(?!view\\.ts$)' }
    },
    {
      name: 'review-service-sees-ports',
      comment: 'one review end to end, over the ClusterView port',
      severity: 'error',
      from: { path: '^src/review-service\\.ts$' },
      to: { path: '^src/(server|config|cli)/|^src/cluster/(?!view\\.ts$)' }
    },
    {
      name: 'config-reads-defaults-only',
      comment: 'config takes each component\'s defaults from dependency-free modules, never Fastify or client-node',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/(cluster|server|cli)/', pathNot: '^src/server/limits\\.ts$|^src/cluster/live/lease\\.ts$' }
    },
    {
      name: 'logging-is-a-leaf',
      severity: 'error',
      from: { path: '^src/logging\\.ts$' },
      to: { path: '^src/' }
    },
    {
      name: 'src-never-imports-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' }
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true }
    },
    {
      name: 'no-orphans',
      comment: 'a module nothing imports is dead code (the CLI entry point is the root)',
      severity: 'error',
      from: { orphan: true, path: '^src/', pathNot: '^src/cli/main\\.ts$' },
      to: {}
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] }
  }
}
