// Growing and joining typed arrays: the helpers the columnar code shares.

type GrowableArray = Uint8Array | Uint32Array | Float64Array

/** A copy of `array` at least `needed` long and at least twice as long, for amortized O(1) appends. */
export function grown<T extends GrowableArray> (array: T, needed: number): T {
  const larger = new (array.constructor as new (length: number) => T)(Math.max(array.length * 2, needed))
  larger.set(array)
  return larger
}

/** Ids in several pieces, one after another in one array: a merge's id maps, batch after batch or piece after piece. */
export function concatenated (pieces: readonly Uint32Array[]): Uint32Array {
  const ids = new Uint32Array(pieces.reduce((sum, piece) => sum + piece.length, 0))
  let at = 0
  for (const piece of pieces) {
    ids.set(piece, at)
    at += piece.length
  }
  return ids
}
