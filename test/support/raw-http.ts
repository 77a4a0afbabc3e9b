import { connect } from 'node:net';

/**
 * Requests no HTTP client library would send (no Host, two Hosts, CONNECT, a broken request line, an
 * upgrade followed by a pipelined request), written byte for byte on a fresh connection. The answers are
 * read until the server closes the connection, so the last request of a test asks for `Connection: close`
 * (or is one the server must answer by closing).
 */

export interface RawResponse {
  status: number;
  /** Lowercased names; a repeated field's values joined with ", ". */
  headers: Record<string, string>;
  body: string;
  // Tests assert on decoded bodies as they do on supertest's `any` bodies.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json(): any;
}

/** Every final answer in `text` (interim 1xx answers are skipped), framed by Content-Length, chunked or the close. */
export function parseResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1) throw new Error(`incomplete response head: ${JSON.stringify(text.slice(at, at + 200))}`);
    const [statusLine = '', ...lines] = text.slice(at, end).split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
    if (!Number.isInteger(status)) throw new Error(`not a status line: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    at = end + 4;
    if (status < 200) continue;
    let body = '';
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lineEnd = text.indexOf('\r\n', at);
        const size = Number.parseInt(text.slice(at, lineEnd), 16);
        at = lineEnd + 2;
        if (size === 0) {
          at += 2;
          break;
        }
        body += text.slice(at, at + size);
        at += size + 2;
      }
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      body = text.slice(at, at + length);
      at += length;
    } else if (status !== 204 && status !== 304) {
      // Neither: the body runs to the end of the connection (RFC 9112 §6.3), as for an HTTP/1.0 client.
      body = text.slice(at);
      at = text.length;
    }
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- see RawResponse.json
    out.push({ status, headers, body, json: () => JSON.parse(body) });
  }
  return out;
}

/** Writes `request` to the server at `baseUrl` and resolves with its answers once it closes the connection. */
export function rawExchange(baseUrl: string, request: string | Buffer): Promise<RawResponse[]> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      try {
        // latin1: one character per byte, so Content-Length counts characters here.
        resolve(parseResponses(Buffer.concat(chunks).toString('latin1')));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.write(request);
  });
}
