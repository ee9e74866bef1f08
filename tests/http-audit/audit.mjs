// Runs graphql-http's GraphQL-over-HTTP server audits against a freshly started gateway (the
// default sandbox run on free ports) and fails on any audit that does not pass outright.
//
//   node tests/http-audit/audit.mjs target/release/heymarket-gateway
import { spawn } from 'node:child_process';
import { serverAudits } from 'graphql-http';

const binary = process.argv[2];
if (!binary) {
  console.error('usage: node audit.mjs <path to the heymarket-gateway binary>');
  process.exit(2);
}

const gateway = spawn(binary, ['--listen', '127.0.0.1:0', '--sandbox-listen', '127.0.0.1:0'], {
  stdio: ['ignore', 'pipe', 'inherit'],
  // Warnings and errors only: the audits send many requests that are refused by design.
  env: { ...process.env, RUST_LOG: 'warn' },
});
const url = await new Promise((resolve, reject) => {
  let printed = '';
  const timer = setTimeout(() => reject(new Error(`the gateway did not start:\n${printed}`)), 60_000);
  gateway.stdout.on('data', (chunk) => {
    printed += chunk;
    const found = printed.match(/GraphQL\s+(http:\/\/\S+\/graphql)/);
    if (found) {
      clearTimeout(timer);
      resolve(found[1]);
    }
  });
  gateway.on('exit', (code) => reject(new Error(`the gateway exited with ${code}:\n${printed}`)));
});

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
gateway.kill('SIGTERM');

for (const problem of problems) console.log(problem);
console.log(`GraphQL-over-HTTP audits at ${url}: ${passed} passed, ${problems.length} not`);
process.exit(problems.length === 0 ? 0 : 1);
