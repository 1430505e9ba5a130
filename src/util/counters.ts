// Counters for dropped and malformed input: the receive path counts, never throws.
export class Counters<K extends string> {
  private readonly values = new Map<K, number>()
  inc(key: K, by = 1): void {
    this.values.set(key, (this.values.get(key) ?? 0) + by)
  }
  get(key: K): number {
    return this.values.get(key) ?? 0
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries(this.values)
  }
}
