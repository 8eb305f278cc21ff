// Each provider module is imported the first time a source of its kind is minted, never before.

import type { ProviderName } from '../../../tokens/token-source.js'
import type { Mint, ProviderEnvironment } from './provider.js'

export async function loadProvider (name: ProviderName, environment: ProviderEnvironment): Promise<Mint> {
  switch (name) {
    case 'exec': return (await import('./exec-provider.js')).execProvider(environment) as Mint
    case 'ecr': return (await import('./ecr-provider.js')).ecrProvider(environment) as Mint
    case 'google': return (await import('./google-provider.js')).googleProvider(environment) as Mint
  }
}
