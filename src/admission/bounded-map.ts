// A Map that holds at most `limit` entries, dropping the oldest insertion first: for caches whose
// keys come from outside (image references, namespace names) and must not grow without bound.

export class BoundedMap<K, V> extends Map<K, V> {
  constructor (readonly limit: number) {
    super()
  }

  override set (key: K, value: V): this {
    if (!this.has(key) && this.size >= this.limit) this.delete(this.keys().next().value as K)
    return super.set(key, value)
  }
}
