// pre-delete hook: deletes the objects named on the command line (API paths), in that order, before
// Helm removes the Deployment that answers the webhook. Gone already (404) is fine; any other answer
// fails the hook, and with it `helm uninstall` (`--no-hooks` skips it; the README says when).

import { call, messageOf } from './kube.mjs'

let failed = false
for (const path of process.argv.slice(2)) {
  const answer = await call('DELETE', path)
  if (answer.status === 200 || answer.status === 202) console.log(`deleted ${path}`)
  else if (answer.status === 404) console.log(`already gone: ${path}`)
  else {
    failed = true
    console.error(`could not delete ${path}: HTTP ${answer.status}: ${messageOf(answer)}`)
  }
}
process.exitCode = failed ? 1 : 0
