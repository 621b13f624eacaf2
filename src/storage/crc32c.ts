/**
 * CRC32C (Castagnoli), the checksum GCS keeps for every object, computed slicing-by-16.
 *
 * Node has no native CRC32C (zlib.crc32 is the IEEE polynomial), and the SDK's own
 * implementation reads one byte at a time through an iterator: ~95 MiB/s here, which capped
 * every GCS upload and download at that speed (it ran twice per single-request upload). This one
 * reads 16 bytes per step through 16 tables and runs at ~1.1 GB/s, faster than native MD5.
 * It is handed to the SDK as its `crc32cGenerator`, so the SDK's own upload and download
 * validation uses it.
 */

const POLYNOMIAL = 0x82f63b78; // reflected Castagnoli polynomial
const SLICES = 16;

/** TABLES[k * 256 + b]: the CRC of byte b followed by k zero bytes. */
const TABLES = buildTables();

function buildTables(): Int32Array {
  const tables = new Int32Array(SLICES * 256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    tables[byte] = crc;
  }
  for (let byte = 0; byte < 256; byte++) {
    for (let k = 1; k < SLICES; k++) {
      const previous = tables[(k - 1) * 256 + byte]!;
      tables[k * 256 + byte] = (previous >>> 8) ^ tables[previous & 0xff]!;
    }
  }
  return tables;
}

/** Continues `crc` (the CRC32C of the bytes before `data`, 0 at the start) over `data`. */
export function crc32c(data: Uint8Array, crc = 0): number {
  const t = TABLES;
  let c = ~crc;
  let i = 0;
  const length = data.length;
  for (const end = length - (length % SLICES); i < end; i += SLICES) {
    const first = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) ^ c;
    c =
      t[3840 + (first & 0xff)]! ^
      t[3584 + ((first >>> 8) & 0xff)]! ^
      t[3328 + ((first >>> 16) & 0xff)]! ^
      t[3072 + (first >>> 24)]! ^
      t[2816 + data[i + 4]!]! ^
      t[2560 + data[i + 5]!]! ^
      t[2304 + data[i + 6]!]! ^
      t[2048 + data[i + 7]!]! ^
      t[1792 + data[i + 8]!]! ^
      t[1536 + data[i + 9]!]! ^
      t[1280 + data[i + 10]!]! ^
      t[1024 + data[i + 11]!]! ^
      t[768 + data[i + 12]!]! ^
      t[512 + data[i + 13]!]! ^
      t[256 + data[i + 14]!]! ^
      t[data[i + 15]!]!;
  }
  for (; i < length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** A running CRC32C in the shape the SDK's `crc32cGenerator` wants (base64 of 4 big-endian bytes). */
export class Crc32c {
  #crc = 0;

  update(data: Uint8Array): void {
    this.#crc = crc32c(data, this.#crc);
  }

  get value(): number {
    return this.#crc;
  }

  toBuffer(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.#crc);
    return out;
  }

  toString(): string {
    return this.toBuffer().toString('base64');
  }

  validate(expected: string): boolean {
    return expected === this.toString();
  }
}
