import { describe, expect, it } from 'vitest';
import { parseListBlobs } from './list-blobs.ts';

describe('parseListBlobs', () => {
  it('reads blobs, prefixes, escaped and percent-encoded names, and the next marker', () => {
    const xml =
      '<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://x/" ContainerName="c"><Prefix>p/</Prefix><MaxResults>3</MaxResults><Delimiter>/</Delimiter><Blobs>' +
      '<Blob><Name> a &amp; b&lt;c </Name><Properties><Last-Modified>Tue, 24 Nov 2026 10:00:00 GMT</Last-Modified><Etag>"0x8DE1"</Etag><Content-Length>12</Content-Length>' +
      '<Content-MD5>1B2M2Y8AsgTpgAmY7PhCfg==</Content-MD5><AccessTier>Cool</AccessTier></Properties></Blob>' +
      '<BlobPrefix><Name>p/dir/</Name></BlobPrefix>' +
      '<Blob><Name Encoded="true">p%2F%EF%BF%BF</Name><Properties><Content-Length>0</Content-Length><Content-MD5 /></Properties></Blob>' +
      '</Blobs><NextMarker>2!abc</NextMarker></EnumerationResults>';
    const page = parseListBlobs(xml);
    expect(page.blobs).toEqual([
      { name: ' a & b<c ', size: 12, etag: '"0x8DE1"', lastModified: new Date('2026-11-24T10:00:00Z'), accessTier: 'Cool', contentMD5: Buffer.from('d41d8cd98f00b204e9800998ecf8427e', 'hex') },
      { name: 'p/\uffff', size: 0, etag: undefined, lastModified: undefined, accessTier: undefined, contentMD5: undefined },
    ]);
    expect(page.prefixes).toEqual(['p/dir/']);
    expect(page.nextMarker).toBe('2!abc');
  });

  it('reads an empty page as no blobs and no next marker', () => {
    const page = parseListBlobs('<?xml version="1.0" encoding="utf-8"?><EnumerationResults><Blobs /><NextMarker /></EnumerationResults>');
    expect(page).toEqual({ blobs: [], prefixes: [], nextMarker: undefined });
  });

  it('refuses an answer that is not a listing', () => {
    expect(() => parseListBlobs('<?xml version="1.0"?><Error><Code>X</Code></Error>')).toThrow(/EnumerationResults/);
  });
});
