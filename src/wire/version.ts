// Version negotiation (PROTOCOL.md §5.2).

export interface VersionRange {
  min: number
  max: number
}

/**
 * The highest version both sides speak, or null when the ranges do not
 * overlap. Both peers compute it from the same two Hellos, so they agree
 * without another round trip.
 */
export function negotiateVersion(local: VersionRange, remote: VersionRange): number | null {
  const highest = Math.min(local.max, remote.max)
  const lowest = Math.max(local.min, remote.min)
  if (highest < lowest || local.min > local.max || remote.min > remote.max) return null
  return highest
}
