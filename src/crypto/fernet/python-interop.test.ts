/**
 * Interoperability with the seed's own Fernet: Python's `cryptography` (the pinned version in
 * the lab's venv, LAB_PYTHON). Tokens we write decrypt in Python to the same bytes, tokens
 * Python writes decrypt here, and both sides agree on the TTL boundaries and on what to refuse.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { labEnv } from '../../../test/lab.ts';
import { isMovingDataError } from '../../errors.ts';
import { PYTHON_REQUIREMENTS } from '../../lab/python.ts';
import {
  decryptTokenStream,
  encryptStreamToToken,
  fernetDecrypt,
  fernetEncrypt,
  formatFernetKey,
  generateFernetKey,
  parseFernetKey,
} from './fernet.ts';

/** Reads one JSON request on stdin, answers one JSON object on stdout. Bytes travel as base64. */
const PYTHON_SCRIPT = `
import base64, json, sys
import cryptography
from cryptography.fernet import Fernet, InvalidToken

req = json.load(sys.stdin)
op = req["op"]
if op == "version":
    out = {"version": cryptography.__version__}
elif op == "encrypt":
    key = Fernet.generate_key()
    f = Fernet(key)
    now = req.get("now")
    tokens = []
    for b64 in req["plaintexts"]:
        data = base64.b64decode(b64)
        tokens.append((f.encrypt(data) if now is None else f.encrypt_at_time(data, now)).decode("ascii"))
    out = {"key": key.decode("ascii"), "tokens": tokens}
elif op == "decrypt":
    f = Fernet(req["key"])
    results = []
    for item in req["tokens"]:
        try:
            if item.get("now") is not None:
                data = f.decrypt_at_time(item["token"], item["ttl"], item["now"])
            else:
                data = f.decrypt(item["token"], item.get("ttl"))
            results.append({"ok": base64.b64encode(data).decode("ascii")})
        except InvalidToken:
            results.append({"error": "InvalidToken"})
    out = {"results": results}
else:
    raise SystemExit("unknown op " + op)
json.dump(out, sys.stdout)
`;

function labPython(): string {
  const python = labEnv()['LAB_PYTHON'];
  if (!python) throw new Error('LAB_PYTHON is not set: these tests need the lab (run without MOVINGDATA_NO_LAB)');
  return python;
}

function python<T>(request: Record<string, unknown>): T {
  const result = spawnSync(labPython(), ['-c', PYTHON_SCRIPT], {
    input: JSON.stringify(request),
    maxBuffer: 256 * 1024 * 1024,
    timeout: 60_000,
    encoding: 'utf8',
  });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`python exited with ${result.status}:\n${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

interface DecryptRequest {
  token: string;
  ttl?: number;
  now?: number;
}
type DecryptResult = { ok: string } | { error: 'InvalidToken' };

function pythonDecrypt(key: string, tokens: DecryptRequest[]): DecryptResult[] {
  return python<{ results: DecryptResult[] }>({ op: 'decrypt', key, tokens }).results;
}

function pythonEncrypt(plaintexts: Buffer[], now?: number): { key: string; tokens: string[] } {
  return python({ op: 'encrypt', plaintexts: plaintexts.map((p) => p.toString('base64')), now });
}

/** Plaintexts of various sizes and kinds: empty, block edges, binary, UTF-8, 1 MiB. */
function samples(): Map<string, Buffer> {
  return new Map([
    ['empty', Buffer.alloc(0)],
    ['1 byte', Buffer.from([0])],
    ['15 bytes', randomBytes(15)],
    ['16 bytes (one block)', randomBytes(16)],
    ['17 bytes', randomBytes(17)],
    ['every byte value', Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
    ['UTF-8 text', Buffer.from('Grüße, 世界! 🔐\n'.repeat(10), 'utf8')],
    ['64 KiB + 3 random', randomBytes(65_539)],
    ['1 MiB random', randomBytes(1024 * 1024)],
  ]);
}

const pinned = PYTHON_REQUIREMENTS.find((r) => r.startsWith('cryptography=='))?.split('==')[1];

describe("interop with Python's cryptography Fernet", () => {
  it(`runs the lab venv's pinned cryptography ${pinned}`, () => {
    expect(python<{ version: string }>({ op: 'version' }).version).toBe(pinned);
  });

  it('tokens we make (one-shot and streamed) decrypt in Python to the same bytes, with a TTL', async () => {
    const key = generateFernetKey();
    const cases = samples();
    const names = [...cases.keys()];
    const tokens: DecryptRequest[] = [];
    for (const plaintext of cases.values()) {
      tokens.push({ token: fernetEncrypt(key, plaintext), ttl: 300 });
      const streamed = await encryptStreamToToken(key, Readable.from([plaintext.subarray(0, 7), plaintext.subarray(7)]));
      tokens.push({ token: streamed, ttl: 300 });
    }
    const results = pythonDecrypt(formatFernetKey(key), tokens);
    names.forEach((name, i) => {
      const expected = cases.get(name)?.toString('base64');
      expect(results[2 * i], `${name} (one-shot)`).toEqual({ ok: expected });
      expect(results[2 * i + 1], `${name} (streamed)`).toEqual({ ok: expected });
    });
  });

  it('tokens Python makes decrypt here to the same bytes, one-shot and streamed, with a TTL', async () => {
    const cases = samples();
    const { key: keyText, tokens } = pythonEncrypt([...cases.values()]);
    const key = parseFernetKey(keyText);
    const names = [...cases.keys()];
    for (const [i, name] of names.entries()) {
      const token = tokens[i] ?? '';
      const expected = cases.get(name) ?? Buffer.alloc(0);
      expect(fernetDecrypt(key, token, { ttlSeconds: 300 }).equals(expected), name).toBe(true);
      const chunks = [token.slice(0, 5), token.slice(5, 1000), token.slice(1000)].filter((c) => c.length > 0);
      const streamed = await decryptTokenStream(key, Readable.from(chunks.map((c) => Buffer.from(c))), {
        ttlSeconds: 300,
      });
      expect(streamed.equals(expected), `${name} (streamed)`).toBe(true);
    }
  });

  it('both sides agree on the TTL and clock-skew boundaries', () => {
    const written = 1_900_000_000;
    const ttl = 60;
    const offsets = [-61, -60, 0, 60, 61];
    const outcomes = (decrypt: (now: number) => boolean): boolean[] => offsets.map((o) => decrypt(written + o));

    // Ours, checked by Python.
    const key = generateFernetKey();
    const ours = fernetEncrypt(key, Buffer.from('ttl'), { now: new Date(written * 1000) });
    const pythonOnOurs = pythonDecrypt(
      formatFernetKey(key),
      offsets.map((o) => ({ token: ours, ttl, now: written + o })),
    ).map((r) => 'ok' in r);
    // Python's, checked by us.
    const { key: pyKey, tokens } = pythonEncrypt([Buffer.from('ttl')], written);
    const theirs = tokens[0] ?? '';
    const oursOnTheirs = outcomes((now) => {
      try {
        fernetDecrypt(parseFernetKey(pyKey), theirs, { now: new Date(now * 1000), ttlSeconds: ttl });
        return true;
      } catch (err) {
        if (isMovingDataError(err) && err.code === 'decryption_failed') return false;
        throw err;
      }
    });
    expect(pythonOnOurs).toEqual([false, true, true, true, false]);
    expect(oursOnTheirs).toEqual(pythonOnOurs);
    // Same key, same time, same plaintext: only the IVs differ, so the timestamp bytes match.
    expect(Buffer.from(ours, 'base64url').subarray(0, 9)).toEqual(Buffer.from(theirs, 'base64url').subarray(0, 9));
  });

  it('both sides refuse the same altered tokens', () => {
    const key = generateFernetKey();
    const token = fernetEncrypt(key, randomBytes(40));
    const bytes = Buffer.from(token, 'base64url');
    const encode = (b: Buffer): string => {
      const text = b.toString('base64url');
      return text + '='.repeat((4 - (text.length % 4)) % 4);
    };
    const flip = (at: number): string => {
      const copy = Buffer.from(bytes);
      copy[at] = (copy[at] ?? 0) ^ 0x80;
      return encode(copy);
    };
    const altered = [
      flip(0),
      flip(5),
      flip(12),
      flip(30),
      flip(bytes.length - 1),
      encode(bytes.subarray(0, bytes.length - 1)),
      encode(bytes.subarray(0, 57)),
      encode(Buffer.concat([bytes, Buffer.alloc(16)])),
      `%%%${token.slice(3)}`,
      '',
    ];
    const pythonResults = pythonDecrypt(
      formatFernetKey(key),
      altered.map((t) => ({ token: t })),
    );
    expect(pythonResults.every((r) => 'error' in r)).toBe(true);
    for (const t of altered) {
      expect(() => fernetDecrypt(key, t), t.slice(0, 30)).toThrow(expect.objectContaining({ code: 'decryption_failed' }));
    }
    // And the unaltered token passes on both sides.
    expect(pythonDecrypt(formatFernetKey(key), [{ token }])[0]).toHaveProperty('ok');
  });
});
