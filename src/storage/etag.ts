/**
 * Etags without their HTTP quoting. Providers quote them in headers (`"0x8D…"`, `"9b2c…"`) and
 * not always in listings (Azure lists them bare), so every adapter reports the bare value and a
 * recorded etag compares equal to a listed one.
 */
export function bareEtag(etag: string): string;
export function bareEtag(etag: string | undefined): string | undefined;
export function bareEtag(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}
