// A fault-injecting HTTP proxy for the upload tests: forwards requests to FHIR_UPSTREAM and,
// on a seeded random share of them, misbehaves the way real servers and networks do.
//
// Environment:
//   PROXY_UPSTREAM   origin to forward to, e.g. http://127.0.0.1:40123 (required)
//   PROXY_PORT       port to listen on (default 0 = a free one); the first stdout line is it
//   PROXY_FAULT_RATE share of requests that get a fault (default 0.3)
//   PROXY_SEED       seed of the fault choices (default 1)
//   PROXY_SLOW_MS    delay of a slow reply (default 1500)
//   PROXY_EXIT_ON_STDIN_EOF "1": exit when stdin closes
//
// Faults, equally likely:
//   500, 503         answered at once, request not forwarded
//   429              answered at once with Retry-After: 1, not forwarded
//   drop-before      connection closed without forwarding
//   drop-after       forwarded (the server acts on it), then the connection is closed
//   error-after      forwarded (the server acts on it), then answered 503
//   slow             forwarded, the reply held back PROXY_SLOW_MS
//
// GET /__proxy/stats answers {"requests": n, "faults": {name: n}} (not forwarded).

import { createServer, request as httpRequest } from 'node:http';

const UPSTREAM = new URL(process.env.PROXY_UPSTREAM);
const PORT = Number.parseInt(process.env.PROXY_PORT ?? '0', 10);
const RATE = Number.parseFloat(process.env.PROXY_FAULT_RATE ?? '0.3');
const SLOW_MS = Number.parseInt(process.env.PROXY_SLOW_MS ?? '1500', 10);
const FAULTS = ['500', '503', '429', 'drop-before', 'drop-after', 'error-after', 'slow'];

// mulberry32: a small seeded generator, so a test run's faults can be replayed
let state = Number.parseInt(process.env.PROXY_SEED ?? '1', 10) >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const stats = { requests: 0, faults: Object.fromEntries(FAULTS.map((f) => [f, 0])) };

function forward(req, body, onReply) {
  const upstream = httpRequest(
    {
      host: UPSTREAM.hostname,
      port: UPSTREAM.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: UPSTREAM.host, 'content-length': body.length },
    },
    (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => onReply(res.statusCode, res.headers, Buffer.concat(chunks)));
    },
  );
  upstream.on('error', (err) => onReply(502, { 'content-type': 'text/plain' }, Buffer.from(String(err))));
  upstream.end(body);
}

function outcome(status, text) {
  return JSON.stringify({
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'transient', diagnostics: `fault proxy: ${text} (${status})` }],
  });
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (req.url === '/__proxy/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stats));
      return;
    }
    stats.requests += 1;
    const fault = random() < RATE ? FAULTS[Math.floor(random() * FAULTS.length)] : null;
    if (fault) stats.faults[fault] += 1;
    const reply = (status, headers, data) => {
      const h = { ...headers };
      delete h['transfer-encoding'];
      delete h['connection'];
      h['content-length'] = data.length;
      res.writeHead(status, h);
      res.end(data);
    };
    switch (fault) {
      case '500':
      case '503':
        reply(Number(fault), { 'content-type': 'application/fhir+json' }, Buffer.from(outcome(fault, 'injected error')));
        return;
      case '429':
        reply(429, { 'content-type': 'application/fhir+json', 'retry-after': '1' }, Buffer.from(outcome(429, 'slow down')));
        return;
      case 'drop-before':
        req.socket.destroy();
        return;
      case 'drop-after':
        forward(req, body, () => req.socket.destroy());
        return;
      case 'error-after':
        forward(req, body, () => reply(503, { 'content-type': 'application/fhir+json' }, Buffer.from(outcome(503, 'acted on, then failed'))));
        return;
      case 'slow':
        forward(req, body, (status, headers, data) => setTimeout(() => reply(status, headers, data), SLOW_MS));
        return;
      default:
        forward(req, body, reply);
    }
  });
});

server.keepAliveTimeout = 30000;
server.listen(PORT, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
if (process.env.PROXY_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
