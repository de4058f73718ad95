// Growing typed arrays: the one helper the columnar code shares.

type GrowableArray = Uint8Array | Uint32Array | Float64Array

/** A copy of `array` at least `needed` long and at least twice as long, for amortized O(1) appends. */
export function grown<T extends GrowableArray> (array: T, needed: number): T {
  const larger = new (array.constructor as new (length: number) => T)(Math.max(array.length * 2, needed))
  larger.set(array)
  return larger
}
