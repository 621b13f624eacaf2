import { describe, expect, it } from 'vitest';
import { MovingDataError } from '../errors.ts';
import { scanXml, xmlScanner, type XmlVisitor } from './xml-scan.ts';

/** Every element as `parent/name=text` in closing order, and every open with its attributes. */
function recorder(): { visitor: XmlVisitor; closed: string[]; opened: string[] } {
  const closed: string[] = [];
  const opened: string[] = [];
  return {
    closed,
    opened,
    visitor: {
      open: (name, parent, attributes) => opened.push(`${parent}/${name}${Object.keys(attributes).length > 0 ? JSON.stringify(attributes) : ''}`),
      close: (name, parent, text) => closed.push(`${parent}/${name}=${text}`),
    },
  };
}

const DOC = '<?xml version="1.0" encoding="utf-8"?><R a="1"><L><K>caf\u00e9 &amp; \u{1F600}</K><V><![CDATA[<raw>]]></V></L><E /></R>';

describe('scanXml', () => {
  it('reports elements with their parent, text (entities and CDATA decoded) and attributes', () => {
    const r = recorder();
    const scanner = xmlScanner(r.visitor, 'test');
    scanner.write(DOC);
    scanner.end();
    expect(r.opened).toEqual(['/R{"a":"1"}', 'R/L', 'L/K', 'L/V', 'R/E']);
    expect(r.closed.slice(0, 3)).toEqual(['L/K=caf\u00e9 & \u{1F600}', 'L/V=<raw>', 'R/L=']);
    expect(r.closed.at(-1)).toBe('/R=');
  });

  it('reads a byte stream cut anywhere, inside multi-byte characters too', async () => {
    const bytes = Buffer.from(DOC, 'utf8');
    const whole = recorder();
    await scanXml([bytes], whole.visitor, 'test');
    for (const size of [1, 2, 3, 5]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      const cut = recorder();
      await scanXml(chunks, cut.visitor, 'test');
      expect(cut.closed).toEqual(whole.closed);
    }
  });

  it('refuses malformed and truncated documents with an internal error that names the answer', async () => {
    for (const bad of ['<R><L></R>', '<R><L>text', 'not xml at all', '<R>&bogus;</R>']) {
      const attempt = scanXml([Buffer.from(bad)], recorder().visitor, 'List Things');
      await expect(attempt).rejects.toBeInstanceOf(MovingDataError);
      await expect(attempt).rejects.toThrow(/List Things: the answer is not well-formed XML/);
    }
  });
});
