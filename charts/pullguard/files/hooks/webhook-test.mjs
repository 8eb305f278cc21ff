// `helm test`: a dry-run Pod create through the API server, in a tenant namespace, with
// imagePullPolicy IfNotPresent. The API server calls pullguard's webhook (sideEffects NoneOnDryRun:
// dry runs are reviewed, nothing is written). Passes only when the Pod comes back pulling Always: the
// webhook answered. Unmutated (failurePolicy Ignore hid a failed call) or refused (the always-pull
// policy rejected the unmutated Pod) fails, with what the API server said.

import { call, messageOf } from './kube.mjs'

const namespace = process.env.TEST_NAMESPACE
const image = process.env.TEST_IMAGE
if (!namespace || !image) throw new Error('TEST_NAMESPACE and TEST_IMAGE must be set')

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'pullguard-webhook-test-', namespace },
  spec: {
    restartPolicy: 'Never',
    containers: [{ name: 'probe', image, imagePullPolicy: 'IfNotPresent' }]
  }
}
const answer = await call('POST', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?dryRun=All`, pod)
if (answer.warnings !== '') console.log(`warnings: ${answer.warnings}`)
if (answer.status !== 201 && answer.status !== 200) {
  console.error(`FAIL: the dry-run Pod was refused (HTTP ${answer.status}): ${messageOf(answer)}`)
  process.exitCode = 1
} else {
  const policies = (answer.body.spec?.containers ?? []).map(c => c.imagePullPolicy)
  const secrets = (answer.body.spec?.imagePullSecrets ?? []).map(s => s.name)
  if (policies.length > 0 && policies.every(policy => policy === 'Always')) {
    console.log(`PASS: the webhook answered: imagePullPolicy Always${secrets.length > 0 ? `, imagePullSecrets ${secrets.join(', ')}` : ''}`)
    process.exitCode = 0
  } else {
    console.error(`FAIL: the Pod came back unmutated (imagePullPolicy ${policies.join(', ')}): the API server did not get an answer from pullguard`)
    process.exitCode = 1
  }
}
