/**
 * Objects at a location, streamed in both directions:
 *   PUT    /files/{location}/{key}   upload (encrypted on the way in; Content-Length optional)
 *   GET    /files/{location}/{key}   download (decrypted; `Range: bytes=` supported)
 *   HEAD   /files/{location}/{key}   size, type, version and checksum, no body
 *   DELETE /files/{location}/{key}   remove this location's copy
 *
 * Every call is authenticated, authorised for the location, and audited (by FileService). The
 * key is the rest of the path, percent-decoded: `/files/aws/reports/2026/q1.csv` is key
 * `reports/2026/q1.csv`. User metadata travels in `x-meta-<name>` headers, as S3's x-amz-meta-*.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { Type } from 'typebox';
import { MovingDataError, isMovingDataError } from '../../errors.ts';
import type { FileService } from '../../files/file-service.ts';
import { assertFileKey } from '../../files/keys.ts';
import type { ObjectInfo } from '../../storage/port.ts';
import { BEARER_SECURITY, authorizeLocation } from '../auth.ts';
import { parseRange, resolveRange } from '../http-range.ts';

export interface FileRoutesOptions {
  readonly files: FileService;
  /** Bytes and transfer time per location (Prometheus). */
  readonly transfers?: { observeTransfer(location: string, direction: 'in' | 'out', bytes: number, seconds: number): void };
}

const Params = Type.Object({
  location: Type.String({ description: 'aws, azure or gcp', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }),
  '*': Type.String({
    description: 'the object key (the rest of the path, percent-encoded as needed): no control characters; at most 999 bytes of UTF-8; no `.` or `..` segment',
    minLength: 1,
    maxLength: 999,
    pattern: '^[^\\u0000-\\u001f\\u007f]+$',
  }),
});

const WriteResponse = Type.Object({
  location: Type.String(),
  key: Type.String(),
  version: Type.Integer(),
  size: Type.Integer({ description: 'plaintext bytes' }),
  sha256: Type.String({ description: 'plaintext SHA-256, hex' }),
  key_id: Type.String({ description: 'the location key that sealed it' }),
  stored_size: Type.Integer({ description: 'ciphertext bytes at the location' }),
  tier: Type.Union([Type.String(), Type.Null()]),
  replicas: Type.Array(
    Type.Object({
      location: Type.String(),
      state: Type.String({ description: 'verified; pending (the copy failed and a replication job retries it, see job_id); or failed' }),
      key_id: Type.Union([Type.String(), Type.Null()]),
      stored_size: Type.Union([Type.Integer(), Type.Null()]),
      tier: Type.Union([Type.String(), Type.Null()]),
      error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
      job_id: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});

const META_HEADER = /^x-meta-([a-z0-9][a-z0-9_-]{0,127})$/;
const MAX_METADATA_BYTES = 2048;

function userMetadata(request: FastifyRequest): Record<string, string> {
  const metadata: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(request.headers)) {
    const match = META_HEADER.exec(name);
    if (!match || typeof value !== 'string') continue;
    if (!/^[\x20-\x7e]*$/.test(value)) throw new MovingDataError('invalid_argument', `header ${name}: metadata values are printable ASCII`);
    metadata[match[1]!] = value;
    bytes += match[1]!.length + value.length;
  }
  if (bytes > MAX_METADATA_BYTES) throw new MovingDataError('invalid_argument', `user metadata is ${bytes} bytes; the limit is ${MAX_METADATA_BYTES}`);
  return metadata;
}

function contentLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  if (header === undefined) return undefined;
  if (!/^\d{1,16}$/.test(header)) throw new MovingDataError('invalid_argument', 'Content-Length must be a byte count');
  return Number(header);
}

function keyOf(request: FastifyRequest<{ Params: { location: string; '*': string } }>): string {
  return request.params['*'];
}

function objectHeaders(reply: FastifyReply, info: ObjectInfo, sha256: string | null | undefined, version: number | undefined): void {
  void reply.header('content-type', info.contentType ?? 'application/octet-stream');
  void reply.header('accept-ranges', 'bytes');
  if (info.lastModified) void reply.header('last-modified', info.lastModified.toUTCString());
  if (sha256) {
    void reply.header('etag', `"${sha256}"`);
    void reply.header('x-movingdata-sha256', sha256);
  }
  if (version !== undefined) void reply.header('x-movingdata-version', String(version));
  if (info.tier) void reply.header('x-movingdata-tier', info.tier);
  for (const [name, value] of Object.entries(info.metadata)) void reply.header(`x-meta-${name}`, value);
}

export const fileRoutes: FastifyPluginAsync<FileRoutesOptions> = async (app, { files, transfers }) => {
  // Bodies here are object bytes: hand the raw stream to the route instead of parsing it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const common = { params: Params, security: [...BEARER_SECURITY], tags: ['files'] };

  app.put<{ Params: { location: string; '*': string } }>(
    '/files/:location/*',
    {
      config: { auth: true },
      schema: {
        ...common,
        summary: 'Upload an object to a location (streamed, encrypted); `replicas` stores it at more locations in the same pass',
        consumes: ['application/octet-stream', '*/*'],
        querystring: Type.Object({ replicas: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_,-]{0,255}$', description: 'CSV of more locations, e.g. azure,gcp' })) }),
        response: { 201: WriteResponse, 202: WriteResponse },
      },
    },
    async (request, reply) => {
      const body = (request.body as Readable | undefined) ?? request.raw;
      const { location } = request.params;
      const key = keyOf(request);
      const replicas = ((request.query as { replicas?: string }).replicas ?? '').split(',').filter((l) => l !== '' && l !== location);
      let principal;
      let options;
      try {
        for (const target of [location, ...replicas]) assertFileKey(key, files.store(target));
        for (const target of replicas) await authorizeLocation(request, target, { objectKey: key });
        principal = await authorizeLocation(request, location, { objectKey: key });
        const size = contentLength(request);
        const type = request.headers['content-type'];
        options = { ...(size === undefined ? {} : { size }), ...(type === undefined ? {} : { contentType: type }), metadata: userMetadata(request), replicas };
      } catch (err) {
        // Drain what the client sends so the error answer reaches it (a closed socket would not).
        body.resume();
        throw err;
      }
      const started = performance.now();
      const written = await files.write(principal.name, location, key, body, options);
      transfers?.observeTransfer(location, 'in', written.size, (performance.now() - started) / 1000);
      // 202: the version is stored elsewhere and the copy here is queued (its location was down).
      return reply.status(written.primaryPending ? 202 : 201).send({
        location: written.location,
        key: written.key,
        version: written.version,
        size: written.size,
        sha256: written.sha256,
        key_id: written.keyId,
        stored_size: written.storedSize,
        tier: written.tier,
        replicas: written.replicas.map((r) => ({ location: r.location, state: r.state, key_id: r.keyId, stored_size: r.storedSize, tier: r.tier, error: r.error ?? null, job_id: r.jobId ?? null })),
      });
    },
  );

  app.get<{ Params: { location: string; '*': string } }>(
    '/files/:location/*',
    {
      config: { auth: true },
      exposeHeadRoute: false,
      schema: {
        ...common,
        summary: 'Download an object (streamed, decrypted; Range supported)',
        // The bytes come back with the content type they were written with: any media type.
        response: {
          200: { description: 'the whole object', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
          206: { description: 'the requested range', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
        },
      },
    },
    async (request, reply) => {
      const { location } = request.params;
      const key = keyOf(request);
      files.store(location);
      const started = performance.now();
      const principal = await authorizeLocation(request, location, { objectKey: key });
      let range = parseRange(request.headers.range);
      try {
        if (range !== undefined && 'suffix' in range) range = resolveRange(range, (await files.head(location, key)).info.size);
        const read = await files.read(principal.name, location, key, range === undefined ? {} : { range });
        // The read's end (bytes, latency, outcome) is an access event of its own, once the
        // answer is fully sent or broken off.
        const length = read.range ? read.range.end - read.range.start + 1 : read.info.size;
        let reported = false;
        const report = (complete: boolean) => {
          if (reported) return;
          reported = true;
          if (complete) transfers?.observeTransfer(location, 'out', length, (performance.now() - started) / 1000);
          files
            .readCompleted({ principal: principal.name, location, key, version: read.version?.version ?? null, bytes: complete ? length : 0, latencyMs: performance.now() - started, outcome: complete ? 'ok' : 'error' })
            .catch((err: unknown) => request.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not record the end of a read'));
        };
        reply.raw.once('finish', () => report(true));
        reply.raw.once('close', () => report(reply.raw.writableFinished));
        objectHeaders(reply, read.info, read.version?.sha256, read.version?.version);
        if (read.range) {
          void reply.header('content-range', `bytes ${read.range.start}-${read.range.end}/${read.info.size}`);
          void reply.header('content-length', String(read.range.end - read.range.start + 1));
          return reply.status(206).send(read.body);
        }
        void reply.header('content-length', String(read.info.size));
        return reply.status(200).send(read.body);
      } catch (err) {
        if (isMovingDataError(err) && err.code === 'range_not_satisfiable') {
          const size = (await files.head(location, key).catch(() => undefined))?.info.size;
          if (size !== undefined) void reply.header('content-range', `bytes */${size}`);
        }
        throw err;
      }
    },
  );

  app.head<{ Params: { location: string; '*': string } }>(
    '/files/:location/*',
    { config: { auth: true }, schema: { ...common, summary: 'Size, type, version and checksum of an object', response: { 200: { description: 'the object is there (headers only)', type: 'null' } } } },
    async (request, reply) => {
      const { location } = request.params;
      const key = keyOf(request);
      files.store(location);
      await authorizeLocation(request, location, { objectKey: key, action: 'read' });
      const head = await files.head(location, key);
      objectHeaders(reply, head.info, head.version?.sha256, head.version?.version);
      void reply.header('content-length', String(head.info.size));
      return reply.status(200).send();
    },
  );

  app.delete<{ Params: { location: string; '*': string } }>(
    '/files/:location/*',
    { config: { auth: true }, schema: { ...common, summary: "Delete this location's copy of an object", response: { 204: Type.Null() } } },
    async (request, reply) => {
      const { location } = request.params;
      const key = keyOf(request);
      files.store(location);
      const principal = await authorizeLocation(request, location, { objectKey: key });
      await files.remove(principal.name, location, key);
      return reply.status(204).send();
    },
  );
};
