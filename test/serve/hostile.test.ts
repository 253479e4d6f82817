/**
 * The search service against hostile callers, on a real demo model and index (test/serve-fixture.ts):
 * fuzzed queries, parameters, product ids and uploads (fast-check) through `inject`, then slow and
 * oversized clients over a real listening socket. The promise: a refusal is a 4xx with a JSON message,
 * never a 5xx, every answer comes within a timeout, memory stays bounded, and a client that stalls or
 * trickles is cut off while everyone else is still answered.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp, type SearchApp } from '../../components/serve/app.js';
import { demoService, type DemoService } from '../serve-fixture.js';

/** Longest a single answer may take here (an image search on a busy 2-core machine included). */
const ANSWER_TIMEOUT_MS = 10_000;

// A full collection between memory readings, so that the figures compare live memory, not garbage.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Percent-encodes the UTF-8 bytes of `text` (encodeURIComponent throws on a lone surrogate; a fuzzed string has them). */
const encode = (text: string) =>
  [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      /[\w.~-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
/** Percent signs kept raw, so that a fuzzed string can carry broken escapes (`%E0%A4%A`, `%zz`) into the URL. */
const rawEncode = (text: string) => encode(text).replace(/%25/g, '%');

const METACHARACTERS = [
  "' OR 1=1 --",
  "'; DROP TABLE products; --",
  '" UNION SELECT password FROM users --',
  '$(rm -rf /)',
  '`reboot`',
  '| cat /etc/passwd',
  '&& ls',
  '; shutdown -h now',
  '../../etc/passwd',
  '<script>alert(1)</script>', // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell probe, sent as the literal text it is.
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  '\\',
  '\u0000',
  '\r\nX-Injected: 1',
  '%00',
  '%',
  '%%',
  '%zz',
  '%E0%A4%A',
  '%C0%AF',
  '%FF%FE%FD',
  '%ED%A0%80',
  '\ud800',
  '\udfff',
  '+',
  '&k=5',
  '#frag',
  '?',
  '=',
  '__proto__',
  'constructor',
  '🙂'.repeat(50),
];

const NUMBERS = [
  '-1',
  '0',
  '-0',
  '1',
  '100',
  '101',
  '1e309',
  '-1e309',
  'NaN',
  'Infinity',
  '-Infinity',
  '1.5',
  '0x10',
  '',
  ' ',
  'ten',
  '1;DROP TABLE x',
  '[]',
  '{}',
  '%00',
  '9'.repeat(400),
  '1e2',
  '2147483648',
  '-2147483649',
  '1%',
  '%zz',
];

const queryText = fc
  .array(
    fc.oneof(
      fc.constantFrom(...METACHARACTERS),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
    ),
    { minLength: 0, maxLength: 6 },
  )
  .map((parts) => parts.join(' '));
/** A parameter value, escaped properly or carried raw. */
const parameter = (value: fc.Arbitrary<string>) =>
  fc.tuple(value, fc.boolean()).map(([text, raw]) => (raw ? rawEncode(text) : encode(text)));
const numeric = fc.oneof(fc.constantFrom(...NUMBERS), fc.integer().map(String), fc.double().map(String));

interface ErrorBody {
  statusCode: number;
  message: string;
}

/** Never a 5xx; a refusal is a 4xx whose JSON body says what was wrong. */
function assertAnswered(response: LightMyRequestResponse, label: string): void {
  assert.ok(response.statusCode < 500, `${label}: ${response.statusCode} ${response.body.slice(0, 300)}`);
  if (response.statusCode >= 400) {
    assert.match(
      String(response.headers['content-type']),
      /application\/json/,
      `${label}: ${response.statusCode} not JSON: ${response.body.slice(0, 200)}`,
    );
    const body = JSON.parse(response.body) as ErrorBody;
    assert.equal(typeof body.message, 'string', `${label}: no message in ${response.body.slice(0, 200)}`);
    assert.ok(body.message.length > 0, label);
  } else {
    assert.equal(response.statusCode, 200, `${label}: ${response.statusCode}`);
  }
}

async function within<T>(work: Promise<T>, label: string, ms = ANSWER_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A PNG that declares width × height but carries one empty compressed row: a decompression bomb's header. */
function pngDeclaring(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(typed));
    return Buffer.concat([length, typed, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.alloc(1 + 3 * Math.min(width, 1024)))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A JPEG whose start-of-frame is rewritten to declare width × height. */
function jpegDeclaring(jpeg: Buffer, width: number, height: number): Buffer {
  const copy = Buffer.from(jpeg);
  for (let at = 2; at + 9 < copy.length; ) {
    if (copy[at] !== 0xff) break;
    const marker = copy[at + 1]!;
    if (marker >= 0xc0 && marker <= 0xc2) {
      copy.writeUInt16BE(height, at + 5);
      copy.writeUInt16BE(width, at + 7);
      return copy;
    }
    at += 2 + copy.readUInt16BE(at + 2);
  }
  throw new Error('no start-of-frame marker in the JPEG');
}

const svg = (width: number, height: number, inner = '') =>
  Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${inner}</svg>`);
const BILLION_LAUGHS = Buffer.from(
  `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, k) => `<!ENTITY lol${k + 1} "${`&lol${k || ''};`.repeat(10)}">`).join('')}]><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&lol9;</text></svg>`,
);
const EXTERNAL_ENTITY = Buffer.from(
  `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&xxe;</text></svg>`,
);

describe('search service under hostile input', () => {
  let demo: DemoService;
  let service: SearchApp;
  let picture: Buffer;
  let ids: string[];

  before(async () => {
    // 3 listings in each of the 13 categories, with pictures: both towers, quick to train.
    demo = await demoService({ perCategory: 3, imageSize: 64, buyers: 300 });
    service = demo.service;
    picture = await readFile(path.join(demo.exportDir, 'images', 'demo-img-000000.jpg'));
    ids = Array.from(demo.state.current()!.index.productRows, (product) => product.id);
  });

  after(async () => {
    await demo?.close();
  });

  const inject = (options: InjectOptions, label: string) => within(service.app.inject(options), label);

  it('answers fuzzed text queries (SQL and shell metacharacters, broken escapes, any Unicode) with 200 or a 4xx message', async () => {
    await fc.assert(
      fc.asyncProperty(parameter(queryText), fc.option(parameter(numeric), { nil: undefined }), async (q, k) => {
        const url = `/search?q=${q}${k === undefined ? '' : `&k=${k}`}`;
        const response = await inject({ method: 'GET', url }, url);
        assertAnswered(response, url);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a 1 MB query string, a blank query and out-of-range k by name', async () => {
    const huge = await inject({ method: 'GET', url: `/search?q=${'a'.repeat(1024 * 1024)}` }, '1 MB q');
    assert.equal(huge.statusCode, 400);
    assert.equal(huge.json<{ parameter: string }>().parameter, 'q');
    const hugeEscaped = await inject({ method: 'GET', url: `/search?q=${'%27%3B'.repeat(180_000)}` }, '1 MB escaped q');
    assert.equal(hugeEscaped.statusCode, 400);
    for (const k of ['-1', '0', '101', '1e309', '-1e309', 'NaN', 'Infinity', '-Infinity', '1.5', 'ten', '9'.repeat(400)]) {
      const response = await inject({ method: 'GET', url: `/search?q=bike&k=${k}` }, `k=${k}`);
      assert.equal(response.statusCode, 400, `k=${k}: ${response.body}`);
      assert.equal(response.json<{ parameter: string }>().parameter, 'k');
    }
  });

  it('answers fuzzed product ids, k and radius_km on similar and buyers with 200, 404 or a 4xx message', async () => {
    const id = fc.oneof(
      fc.constantFrom(...ids),
      parameter(fc.oneof(fc.constantFrom(...METACHARACTERS), fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }))),
    );
    await fc.assert(
      fc.asyncProperty(
        id,
        fc.constantFrom('similar', 'buyers'),
        fc.option(parameter(numeric), { nil: undefined }),
        fc.option(parameter(numeric), { nil: undefined }),
        async (product, route, k, radius) => {
          const query = [k === undefined ? '' : `k=${k}`, radius === undefined ? '' : `radius_km=${radius}`].filter(Boolean).join('&');
          const url = `/products/${product}/${route}${query ? `?${query}` : ''}`;
          const response = await inject({ method: 'GET', url }, url);
          assertAnswered(response, url);
        },
      ),
      { numRuns: 150 },
    );
    for (const radius of ['-1', '0', '-0', '1e309', '-1e309', 'Infinity', 'NaN', '1501', 'far']) {
      const response = await inject({ method: 'GET', url: `/products/${ids[0]}/buyers?radius_km=${radius}` }, radius);
      assert.equal(response.statusCode, 400, `radius_km=${radius}: ${response.body}`);
      assert.equal(response.json<{ parameter: string }>().parameter, 'radius_km');
    }
    // k=-Infinity once reached faiss as k < 1, whose native assertion aborted the whole process.
    for (const route of ['similar', 'buyers']) {
      for (const k of ['-Infinity', '-1e309', 'Infinity']) {
        const response = await inject({ method: 'GET', url: `/products/${ids[0]}/${route}?k=${k}` }, `${route} k=${k}`);
        assert.equal(response.statusCode, 400, `${route} k=${k}: ${response.body}`);
        assert.equal(response.json<{ parameter: string }>().parameter, 'k');
      }
    }
    for (const unknown of ['no-such-id', "1' OR '1'='1", '%00', '..%2F..%2Fetc%2Fpasswd', 'x'.repeat(100)]) {
      const response = await inject({ method: 'GET', url: `/products/${unknown}/similar` }, unknown);
      assert.equal(response.statusCode, 404, `${unknown}: ${response.body}`);
    }
  });

  it('refuses uploads that are not images, truncated JPEGs, decompression bombs and wrong content types with a 4xx message', async () => {
    const cases: { label: string; body?: Buffer | string; type?: string; status?: number }[] = [
      { label: 'html as jpeg', body: '<html>no</html>', type: 'image/jpeg', status: 400 },
      {
        label: 'random bytes',
        body: Buffer.from(Array.from({ length: 4096 }, (_, k) => (k * 7919) & 0xff)),
        type: 'image/png',
        status: 400,
      },
      {
        label: 'JPEG magic then garbage',
        body: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(500, 0x41)]),
        type: 'image/jpeg',
        status: 400,
      },
      { label: 'truncated JPEG (half)', body: picture.subarray(0, Math.floor(picture.length / 2)), type: 'image/jpeg', status: 400 },
      { label: 'truncated JPEG (header only)', body: picture.subarray(0, 200), type: 'image/jpeg', status: 400 },
      { label: 'PNG declaring 100000 x 100000 (decompression bomb)', body: pngDeclaring(100_000, 100_000), type: 'image/png', status: 400 },
      { label: 'PNG declaring 2^31-1 x 1', body: pngDeclaring(2 ** 31 - 1, 1), type: 'image/png', status: 400 },
      { label: 'JPEG declaring 65500 x 65500', body: jpegDeclaring(picture, 65_500, 65_500), type: 'image/jpeg', status: 400 },
      { label: 'SVG declaring 100000 x 100000', body: svg(100_000, 100_000), type: 'image/svg+xml', status: 400 },
      { label: 'SVG billion laughs', body: BILLION_LAUGHS, type: 'image/svg+xml' },
      { label: 'SVG external entity', body: EXTERNAL_ENTITY, type: 'image/svg+xml' },
      { label: 'GIF header only', body: Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'), type: 'image/gif', status: 400 },
      { label: 'empty image/png', type: 'image/png', status: 400 },
      { label: 'empty body, no content type', status: 415 },
      { label: 'text/plain', body: 'hello', type: 'text/plain', status: 415 },
      { label: 'bad JSON', body: '{"a":', type: 'application/json' },
      { label: 'JSON', body: '{"image":"aGVsbG8="}', type: 'application/json', status: 415 },
      { label: 'octet-stream', body: picture, type: 'application/octet-stream', status: 415 },
      { label: 'multipart without parts', body: '--x--\r\n', type: 'multipart/form-data; boundary=x', status: 415 },
      { label: 'image/jpeg with parameters', body: picture, type: 'image/jpeg; charset=utf-8' },
      { label: 'content type "image/"', body: picture, type: 'image/' },
      { label: 'content type garbage', body: picture, type: '\u00ff;;==' },
      { label: 'over the 10 MB upload limit', body: Buffer.alloc(10 * 1024 * 1024 + 1, 0xff), type: 'image/jpeg', status: 413 },
    ];
    for (const { label, body, type, status } of cases) {
      const response = await inject(
        {
          method: 'POST',
          url: '/search/image?k=3',
          ...(body === undefined ? {} : { payload: body }),
          headers: type === undefined ? {} : { 'content-type': type },
        },
        label,
      );
      assertAnswered(response, label);
      if (status !== undefined) assert.equal(response.statusCode, status, `${label}: ${response.body.slice(0, 300)}`);
    }
    // The real picture still answers: the refusals above are about the input, not a broken route.
    const good = await inject(
      { method: 'POST', url: '/search/image?k=3', payload: picture, headers: { 'content-type': 'image/jpeg' } },
      'real picture',
    );
    assert.equal(good.statusCode, 200, good.body);
  });

  it('answers fuzzed image bodies (mutated real JPEGs, random bytes) with 200 or a 4xx message', async () => {
    const mutated = fc
      .tuple(
        fc.integer({ min: 0, max: picture.length - 1 }),
        fc.uint8Array({ minLength: 1, maxLength: 16 }),
        fc.integer({ min: 1, max: picture.length }),
      )
      .map(([at, bytes, end]) => {
        const copy = Buffer.from(picture.subarray(0, end));
        copy.set(bytes.subarray(0, Math.max(0, copy.length - at)), Math.min(at, copy.length));
        return copy;
      });
    const body = fc.oneof(
      mutated,
      fc.uint8Array({ minLength: 0, maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
    );
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.constantFrom('image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif', 'image/svg+xml'),
        async (payload, type) => {
          const response = await inject(
            { method: 'POST', url: '/search/image', payload, headers: { 'content-type': type } },
            `${type} ${payload.length} bytes`,
          );
          assertAnswered(response, `${type} ${payload.length} bytes`);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('answers unknown routes and methods with a 4xx message', async () => {
    const cases: InjectOptions[] = [
      { method: 'POST', url: '/search?q=bike', payload: { q: 'bike' } },
      { method: 'PUT', url: '/products/x/similar' },
      { method: 'DELETE', url: '/search' },
      { method: 'GET', url: '/search/image' },
      { method: 'GET', url: `/products/${'%E0%A4%A'}/similar` },
      { method: 'GET', url: '/%' },
      { method: 'GET', url: '/products//similar' },
      { method: 'GET', url: `/products/${'y'.repeat(5000)}/similar` },
      { method: 'GET', url: '/search?q=bike&q=bike' },
      { method: 'GET', url: '/search?q[]=bike' },
      { method: 'GET', url: '/search?q=bike&__proto__[k]=1&constructor[prototype][k]=1' },
      { method: 'OPTIONS', url: '/search' },
    ];
    for (const request of cases) {
      const label = `${request.method} ${String(request.url).slice(0, 80)}`;
      assertAnswered(await inject(request, label), label);
    }
  });

  it('keeps memory bounded across 500 fuzzed requests', async (t) => {
    const request = fc.oneof(
      parameter(queryText).map((q): InjectOptions => ({ method: 'GET', url: `/search?q=${q}` })),
      fc
        .tuple(fc.constantFrom(...ids), parameter(numeric))
        .map(([id, k]): InjectOptions => ({ method: 'GET', url: `/products/${id}/buyers?k=${k}` })),
      fc.uint8Array({ minLength: 0, maxLength: 4096 }).map(
        (bytes): InjectOptions => ({
          method: 'POST',
          url: '/search/image',
          payload: Buffer.from(bytes),
          headers: { 'content-type': 'image/jpeg' },
        }),
      ),
      fc.constant<InjectOptions>({
        method: 'POST',
        url: '/search/image',
        payload: pngDeclaring(100_000, 100_000),
        headers: { 'content-type': 'image/png' },
      }),
      fc.constant<InjectOptions>({ method: 'GET', url: `/search?q=${'a'.repeat(1024 * 1024)}` }),
      fc.constant<InjectOptions>({ method: 'POST', url: '/search/image', payload: picture, headers: { 'content-type': 'image/jpeg' } }),
    );
    const requests = fc.sample(request, { numRuns: 600, seed: 42 });
    const send = async (options: InjectOptions) =>
      assertAnswered(await inject(options, String(options.url).slice(0, 80)), String(options.url).slice(0, 80));
    // A warm-up: ONNX sessions, sharp's caches and V8's code settle first.
    for (const options of requests.slice(0, 100)) await send(options);
    gc();
    const before = process.memoryUsage();
    for (const options of requests.slice(100)) await send(options);
    gc();
    const afterRun = process.memoryUsage();
    const mb = (bytes: number) => bytes / 2 ** 20;
    const heapGrowth = mb(afterRun.heapUsed - before.heapUsed);
    const rssGrowth = mb(afterRun.rss - before.rss);
    t.diagnostic(
      `500 fuzzed requests: heap ${mb(before.heapUsed).toFixed(1)} -> ${mb(afterRun.heapUsed).toFixed(1)} MB, rss ${mb(before.rss).toFixed(1)} -> ${mb(afterRun.rss).toFixed(1)} MB`,
    );
    // 500 requests of up to 1 MB each: a leak of any one of them per request would show as hundreds of MB.
    assert.ok(heapGrowth < 32, `heap grew ${heapGrowth.toFixed(1)} MB over 500 requests`);
    assert.ok(rssGrowth < 128, `rss grew ${rssGrowth.toFixed(1)} MB over 500 requests`);
  });

  describe('over a real socket', () => {
    let slow: SearchApp;
    let port: number;

    before(async () => {
      // The same served version, with short timeouts so that the test sees them fire.
      slow = await buildApp({
        state: demo.state,
        log: demo.service.app.log as never,
        timeouts: { connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000, keepAliveTimeoutMs: 1_000 },
      });
      await slow.app.listen({ port: 0, host: '127.0.0.1' });
      port = (slow.app.server.address() as net.AddressInfo).port;
    });

    after(async () => {
      await slow?.app.close();
    });

    /** Opens a raw connection, runs `talk` on it, and resolves with what the server sent and how long until it closed. */
    function rawClient(talk: (socket: net.Socket) => void, limitMs = 8_000): Promise<{ received: string; closedAfterMs: number }> {
      return new Promise((resolve, reject) => {
        const started = performance.now();
        const socket = net.connect(port, '127.0.0.1');
        let received = '';
        const limit = setTimeout(() => {
          socket.destroy();
          reject(new Error(`the server kept the connection open for ${limitMs} ms`));
        }, limitMs);
        socket.on('data', (chunk) => (received += chunk.toString('latin1')));
        socket.on('error', () => undefined); // a reset is one way of being cut off
        socket.on('close', () => {
          clearTimeout(limit);
          resolve({ received, closedAfterMs: performance.now() - started });
        });
        socket.on('connect', () => talk(socket));
      });
    }

    const searchOk = async () => {
      const started = performance.now();
      const response = await fetch(`http://127.0.0.1:${port}/search?q=mountain%20bike&k=3`);
      assert.equal(response.status, 200);
      await response.json();
      return performance.now() - started;
    };

    it('cuts off a client that sends headers then stalls, a client that trickles its body, and one that trickles its headers, while answering others', async (t) => {
      const timers: NodeJS.Timeout[] = [];
      const stalled = rawClient((socket) => {
        socket.write('POST /search/image HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n');
        socket.write(picture.subarray(0, 10));
      });
      const trickle = rawClient((socket) => {
        socket.write('POST /search/image HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n');
        let at = 0;
        timers.push(setInterval(() => !socket.destroyed && socket.write(picture.subarray(at, ++at)), 200));
      });
      const slowloris = rawClient((socket) => {
        socket.write('GET /search?q=bike HTTP/1.1\r\nHost: x\r\n');
        let line = 0;
        timers.push(setInterval(() => !socket.destroyed && socket.write(`X-Slow-${line++}: a\r\n`), 200));
      });
      // Others are answered promptly while the three hold their connections.
      const others: number[] = [];
      for (let i = 0; i < 10; i++) {
        others.push(await within(searchOk(), 'a normal search beside slow clients', 5_000));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const [a, b, c] = await Promise.all([stalled, trickle, slowloris]);
      for (const timer of timers) clearInterval(timer);
      t.diagnostic(
        `cut off after: stalled ${a.closedAfterMs.toFixed(0)} ms, trickled body ${b.closedAfterMs.toFixed(0)} ms, trickled headers ${c.closedAfterMs.toFixed(0)} ms; others answered in at most ${Math.max(...others).toFixed(0)} ms`,
      );
      // The stalled socket: silent for the connection timeout (1 s).
      assert.ok(a.closedAfterMs < 4_000, `stalled client held on for ${a.closedAfterMs} ms`);
      // The tricklers keep the socket busy, so only the request timeout (2 s, checked every 0.5 s) ends them, with a 408.
      assert.ok(b.closedAfterMs < 5_000, `trickling client held on for ${b.closedAfterMs} ms`);
      assert.match(b.received, /^HTTP\/1\.1 408/);
      assert.match(b.received, /"message"/);
      assert.ok(c.closedAfterMs < 5_000, `slowloris held on for ${c.closedAfterMs} ms`);
      assert.match(c.received, /^HTTP\/1\.1 408/);
      assert.ok(Math.max(...others) < 5_000);
      await searchOk();
    });

    it('answers a 1 MB request line with 431 and a JSON message, and keeps answering', async () => {
      const { received } = await rawClient((socket) =>
        socket.write(`GET /search?q=${'a'.repeat(1024 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`),
      );
      assert.match(received, /^HTTP\/1\.1 431/);
      assert.match(received, /"message"/);
      // Invalid UTF-8 in the raw request line, past any client library's encoding.
      const bad = await rawClient((socket) =>
        socket.write(
          Buffer.concat([
            Buffer.from('GET /search?q='),
            Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]),
            Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
          ]),
        ),
      );
      assert.match(bad.received, /^HTTP\/1\.1 (200|4\d\d)/);
      await searchOk();
    });
  });
});
