// Runs graphql-http's GraphQL-over-HTTP server audits against a freshly started gateway (the
// default sandbox run on free ports) and fails on any audit that does not pass outright.
//
//   node tests/http-audit/audit.mjs target/release/heymarket-gateway
import { serverAudits } from 'graphql-http';
import { startDefaultRun } from '../default-run.mjs';

const binary = process.argv[2];
if (!binary) {
  console.error('usage: node audit.mjs <path to the heymarket-gateway binary>');
  process.exit(2);
}

// Warnings and errors only: the audits send many requests that are refused by design.
const run = await startDefaultRun(binary, { RUST_LOG: 'warn' });
const url = run.graphql;

let passed = 0;
const problems = [];
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  const result = await audit.fn();
  if (result.status === 'ok') {
    passed += 1;
  } else {
    problems.push(`${result.status.toUpperCase()} ${audit.id} ${audit.name}: ${result.reason}`);
  }
}
run.stop();

for (const problem of problems) console.log(problem);
console.log(`GraphQL-over-HTTP audits at ${url}: ${passed} passed, ${problems.length} not`);
process.exit(problems.length === 0 ? 0 : 1);
