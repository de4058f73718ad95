// The CRC-32 of two byte runs one after the other, from the CRC of each and the second's length, as zlib's
// crc32_combine (which Node 20 does not expose): parts of a file checksummed on two threads make one CRC.

/** Multiplies a 32×32 matrix over GF(2), one row a word, by a vector. */
function times (matrix: Uint32Array, vector: number): number {
  let sum = 0
  for (let row = 0; vector !== 0; row++, vector >>>= 1) {
    if (vector & 1) sum ^= matrix[row]
  }
  return sum >>> 0
}

function square (result: Uint32Array, matrix: Uint32Array): void {
  for (let row = 0; row < 32; row++) result[row] = times(matrix, matrix[row])
}

/** The CRC-32 of A followed by B, from A's CRC, B's CRC and B's length in bytes. */
export function crc32Combine (crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA
  // The operator that appends one zero bit to a CRC (the reflected polynomial, then a shift), squared again
  // and again: appending 2, 4, 8, … zero bits, applied to A's CRC along the bits of B's length.
  const odd = new Uint32Array(32)
  const even = new Uint32Array(32)
  odd[0] = 0xedb88320
  for (let row = 1; row < 32; row++) odd[row] = (1 << (row - 1)) >>> 0
  square(even, odd)
  square(odd, even)
  let crc = crcA
  for (let remaining = lengthB; remaining > 0;) {
    square(even, odd)
    if (remaining % 2 === 1) crc = times(even, crc)
    remaining = Math.floor(remaining / 2)
    if (remaining === 0) break
    square(odd, even)
    if (remaining % 2 === 1) crc = times(odd, crc)
    remaining = Math.floor(remaining / 2)
  }
  return (crc ^ crcB) >>> 0
}
