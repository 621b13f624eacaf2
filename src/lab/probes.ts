/**
 * Bounded, dependency-free probes the lab uses to tell whether a server answers: plain HTTP,
 * a TCP connect, and a Kafka Metadata request. Every probe has its own timeout and never keeps
 * the event loop alive after it settles (no keep-alive agents, sockets destroyed).
 */
import { request } from 'node:http';
import { createConnection, createServer } from 'node:net';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** One HTTP request with a hard deadline; rejects on connection errors and timeouts. */
export function httpRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', headers: { connection: 'close', ...options.headers }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          // Probes only look at the start of a body; do not hold on to more.
          if (body.length < 64 * 1024) body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** True when `GET url` answers with `status` (default 200) before the deadline. */
export async function httpAnswers(url: string, status = 200, timeoutMs = 2_000): Promise<boolean> {
  try {
    return (await httpRequest(url, { timeoutMs })).status === status;
  } catch {
    return false;
  }
}

/** True when something accepts a TCP connection on host:port before the deadline. */
export function tcpAnswers(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (result: boolean): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A port on 127.0.0.1 that was free a moment ago (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

export interface KafkaBroker {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/**
 * Sends a Kafka Metadata v1 request (no topics) and returns the brokers the cluster reports.
 * A KRaft broker lists itself only once it is unfenced, so a non-empty answer means the broker
 * really serves clients, which a log line or an open port does not prove.
 */
export function kafkaMetadataBrokers(host: string, port: number, timeoutMs = 3_000): Promise<KafkaBroker[]> {
  const clientId = Buffer.from('movingdata-lab', 'utf8');
  const correlationId = 0x4d44; // "MD"
  // Request header v1: api_key int16, api_version int16, correlation_id int32, client_id string.
  // Metadata v1 body: topics array, -1 (null) = no topic list needed here.
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4);
  let o = 0;
  o = body.writeInt16BE(3, o); // Metadata
  o = body.writeInt16BE(1, o);
  o = body.writeInt32BE(correlationId, o);
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  body.writeInt32BE(0, o); // empty topic list: brokers only
  const frame = Buffer.alloc(4 + body.length);
  frame.writeInt32BE(body.length, 0);
  body.copy(frame, 4);

  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    let received = Buffer.alloc(0);
    const fail = (err: Error): void => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no Kafka answer from ${host}:${port} within ${timeoutMs} ms`)));
    socket.once('error', fail);
    socket.once('connect', () => socket.write(frame));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]); // a Metadata answer without topics is tiny
      if (received.length < 4) return;
      const size = received.readInt32BE(0);
      if (size > 1024 * 1024) return fail(new Error(`implausible Kafka frame of ${size} bytes`));
      if (received.length < 4 + size) return;
      socket.destroy();
      try {
        resolve(parseMetadataBrokers(received.subarray(4, 4 + size), correlationId));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

function parseMetadataBrokers(frame: Buffer, correlationId: number): KafkaBroker[] {
  let o = 0;
  if (frame.readInt32BE(o) !== correlationId) throw new Error('Kafka answered another request');
  o += 4;
  const count = frame.readInt32BE(o);
  o += 4;
  const brokers: KafkaBroker[] = [];
  for (let i = 0; i < count; i++) {
    const nodeId = frame.readInt32BE(o);
    o += 4;
    const hostLength = frame.readInt16BE(o);
    o += 2;
    const host = frame.toString('utf8', o, o + hostLength);
    o += hostLength;
    const port = frame.readInt32BE(o);
    o += 4;
    const rackLength = frame.readInt16BE(o);
    o += 2 + Math.max(rackLength, 0);
    brokers.push({ nodeId, host, port });
  }
  return brokers;
}
