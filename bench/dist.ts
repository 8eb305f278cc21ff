// The project code under test, loaded from the BUILT files (`npm run bench` builds first) so the bench
// measures what ships. Types come from src/ (type-only imports, erased at run time); the values come
// from dist/ through a computed specifier, which tsc does not try to resolve to a declaration file.
// Only the admission core is loaded here: the memory measurements import this module and should not
// pay for the server's modules.

import type * as Decide from '../src/admission/decide.js'
import type * as Options from '../src/admission/options.js'
import type * as Patch from '../src/admission/patch.js'
import type * as Envelope from '../src/admission/envelope.js'
import type * as StaticView from '../src/cluster/static-view.js'
import type * as Service from '../src/review-service.js'
import type * as Logging from '../src/logging.js'

export const DIST_URL = new URL('../dist/', import.meta.url)
export const CLI_PATH = new URL('cli/main.js', DIST_URL).pathname

/** A dist module by its path under dist/, typed by the caller with `typeof import type` of its source. */
export async function load<T> (path: string): Promise<T> {
  try {
    return await import(new URL(path, DIST_URL).href) as T
  } catch (error) {
    throw new Error(`cannot load dist/${path}: run \`npm run build\` first (npm run bench does)`, { cause: error })
  }
}

export const { decide } = await load<typeof Decide>('admission/decide.js')
export const { DEFAULT_ADMISSION_OPTIONS } = await load<typeof Options>('admission/options.js')
export const { addPullSecret, encodePatch, forceContainerPullPolicy } = await load<typeof Patch>('admission/patch.js')
export const { parseAdmissionReview } = await load<typeof Envelope>('admission/envelope.js')
export const { StaticClusterView, readManifestFile } = await load<typeof StaticView>('cluster/static-view.js')
export const { ReviewService } = await load<typeof Service>('review-service.js')
export const { createLogger } = await load<typeof Logging>('logging.js')
