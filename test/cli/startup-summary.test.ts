// The one line standalone mode logs at start, as data: counts, what was ignored and why, and every
// credential problem by Secret, reason and scope.

import t from 'tap'
import { DEFAULT_ADMISSION_OPTIONS as options } from '../../src/admission/options.js'
import { StaticClusterView } from '../../src/cluster/static-view.js'
import { standaloneSummary } from '../../src/cli/startup-summary.js'
import { auth, credentialSecret, namespace, standardCluster } from '../support/cluster.js'

const desktop = (name: string, tenant: string): object => ({
  ...credentialSecret({ name, tenant, auths: {} }),
  data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: { 'registry.initech.example': {} }, credsStore: 'desktop' })).toString('base64') }
})

t.test('a healthy cluster: one info line', async t => {
  const summary = standaloneSummary(new StaticClusterView(standardCluster(), options))
  t.equal(summary.level, 'info')
  t.equal(summary.message, 'loaded 5 namespaces, 3 tenants, 3 credential Secrets; 0 ignored')
  t.match(summary.fields, { namespaces: 5, tenants: 3, credentialSecrets: 3, managedSecrets: 0, ignored: {} })
  t.notOk('problems' in summary.fields)
})

t.test('problems: a warn line naming each by Secret, reason and scope; the fields carry the messages', async t => {
  const summary = standaloneSummary(new StaticClusterView([
    ...standardCluster(),
    desktop('initech-desktop', 'initech'),
    credentialSecret({ name: 'globex-old', tenant: 'globex', auths: { 'ghcr.io/globex': auth('old', 'pw') } }),
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'team-a' } },
    namespace('solo', 'solo')
  ], options))
  t.equal(summary.level, 'warn')
  t.equal(summary.message, 'loaded 6 namespaces, 4 tenants, 5 credential Secrets; 1 ignored: ConfigMap (1); 3 credential problems: ' +
    'Secret initech-desktop NoUsableCredential, Secret initech-desktop CredentialHelperOnly "registry.initech.example", ' +
    'Secret globex-old RegistryKeyConflict "ghcr.io/globex"')
  t.match(summary.fields.problems, [
    { secret: 'initech-desktop', tenant: 'initech', reason: 'NoUsableCredential', message: /credsStore "desktop" is ignored on nodes/ },
    { secret: 'initech-desktop', reason: 'CredentialHelperOnly', scope: 'registry.initech.example' },
    { secret: 'globex-old', reason: 'RegistryKeyConflict', message: /also in Secret globex-ghcr, which wins/ }
  ])
  t.notOk('tenantsWithoutCredentials' in summary.fields, 'initech still has the shared mirror')
})

t.test('a tenant left without credentials is named; a long list is cut in the line, whole in the fields', async t => {
  const broken = Array.from({ length: 11 }, (_, i) => ({ ...credentialSecret({ name: `acme-${i}`, tenant: 'acme', auths: {} }), type: 'Opaque' }))
  const summary = standaloneSummary(new StaticClusterView([namespace('team-a', 'acme'), ...broken], options))
  t.match(summary.message, /^loaded 1 namespace, 1 tenant, 11 credential Secrets; 0 ignored; 12 credential problems: Secret acme-0 WrongSecretType, .* and 2 more$/)
  t.equal((summary.fields.problems as unknown[]).length, 11)
  t.match(summary.fields.tenantsWithoutCredentials, [{ tenant: 'acme', namespaces: ['team-a'] }])
})
