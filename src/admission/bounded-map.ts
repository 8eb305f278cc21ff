// A Map that holds at most `limit` entries: adding a new key when full drops the oldest insertion.
// For caches whose misses are cheap to redo (a parse, an API lookup), where the point of the bound is
// only that unusual input cannot grow memory without end. First in, first out rather than LRU: a hit
// costs a plain Map lookup, with no reordering on the hot path.

export class BoundedMap<K, V> extends Map<K, V> {
  constructor (readonly limit: number) {
    super()
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a BoundedMap holds at least 1 entry, not ${limit}`)
  }

  /** a new key may drop the oldest one; an existing key takes the new value and keeps its place */
  override set (key: K, value: V): this {
    if (this.size >= this.limit && !this.has(key)) this.delete(this.keys().next().value as K)
    return super.set(key, value)
  }
}
