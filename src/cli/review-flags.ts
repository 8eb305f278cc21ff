// review's own flags, apart from the command so that usage (and main) can name them without loading
// the review path (the static view, the decision, fast-json-patch).

import type { CommandLine } from '../config/config.js'
import { EXIT } from './exit-codes.js'

export const REVIEW_OUTPUTS = ['answer', 'patch', 'patched'] as const
export type ReviewOutput = typeof REVIEW_OUTPUTS[number]

export const REVIEW_COMMAND_LINE: CommandLine = {
  positionals: 1,
  required: [{ key: 'objects', why: 'the Namespaces and Secrets to decide against' }],
  flags: [
    { name: 'output', short: 'o', kind: 'string', placeholder: REVIEW_OUTPUTS.join('|'), default: 'answer', choices: REVIEW_OUTPUTS,
      help: 'answer: the AdmissionReview answer, patch also decoded; patch: the JSON Patch; patched: the Pod after it' },
    { name: 'namespace', short: 'n', kind: 'string', placeholder: 'NAME', help: 'namespace of a manifest without metadata.namespace' },
    { name: 'fail-on-deny', kind: 'boolean', help: `exit ${EXIT.denied} when the request is denied (default: exit ${EXIT.ok}, the denial in the answer)` }
  ]
}
