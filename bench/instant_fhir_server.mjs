// A FHIR "server" that answers every request at once, for bench/upload_ceiling.py: it reads
// the body and replies 200 with a minimal transaction-response (or, for a PUT, the body back
// is not needed: an empty OperationOutcome). Prints its port on the first stdout line.
import { createServer } from 'node:http';

const ok = Buffer.from('{"resourceType":"Bundle","type":"transaction-response","entry":[]}');
const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-length': ok.length });
    res.end(ok);
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
