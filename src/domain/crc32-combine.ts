// The CRC-32 of two byte runs one after the other, from the CRC of each and the second's length, as zlib's
// crc32_combine (which Node 20 does not expose): parts of a file checksummed on two threads make one CRC.
// zlib's own method since 1.2.12: appending n zero bytes to A multiplies its CRC by x^(8n) modulo the
// polynomial, made from a table of x^(2^k); a few hundred steps, where squaring 32×32 matrices took some
// 30,000 and 4 ms of a restart's first call.

/** The CRC-32 polynomial, reflected: bit 31 is x^0. */
const POLYNOMIAL = 0xedb88320
/** x^0, reflected. */
const ONE = 0x80000000

/** a × b modulo the polynomial, both reflected. */
function multiplyModP (a: number, b: number): number {
  let product = 0
  for (let bit = ONE; bit !== 0; bit >>>= 1) {
    if ((a & bit) !== 0) {
      product ^= b
      // a has no bits left below this one.
      if ((a & (bit - 1)) === 0) break
    }
    b = (b & 1) !== 0 ? (b >>> 1) ^ POLYNOMIAL : b >>> 1
  }
  return product >>> 0
}

/** x^(2^k) modulo the polynomial, for k = 0…31 (the powers repeat with a period that divides 2^32 - 1). */
const POWERS_OF_X = new Uint32Array(32)
POWERS_OF_X[0] = ONE >>> 1
for (let k = 1; k < 32; k++) POWERS_OF_X[k] = multiplyModP(POWERS_OF_X[k - 1], POWERS_OF_X[k - 1])

/** x^(n × 2^k) modulo the polynomial. */
function xPowerModP (n: number, k: number): number {
  let power = ONE
  for (; n > 0; n = Math.floor(n / 2), k++) {
    if (n % 2 === 1) power = multiplyModP(POWERS_OF_X[k & 31], power)
  }
  return power
}

/** The CRC-32 of A followed by B, from A's CRC, B's CRC and B's length in bytes. */
export function crc32Combine (crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA
  // A byte is 2^3 bits.
  return (multiplyModP(xPowerModP(lengthB, 3), crcA) ^ crcB) >>> 0
}
