import type { CredentialState } from '../cluster/credential-state.js'
import type { Logger } from '../logging.js'

/** Standalone mode reads its credentials once: say at start what was dropped or overridden, and why. */
export function logCredentialIssues (logger: Logger, state: CredentialState): void {
  const { conflicts, problems } = state.issues()
  if (conflicts.length > 0 || problems.length > 0) {
    logger.warn({ conflicts, problems }, 'credential sources: registry key conflicts or unusable Secrets')
  }
}
