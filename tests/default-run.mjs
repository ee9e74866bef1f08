// The gateway's default run (the embedded sandbox and the gateway, no configuration) on free
// ports, as the Node checks of .ci/run start the release binary, with the addresses its banner
// prints.
import { spawn } from 'node:child_process';

/**
 * Starts `binary` and resolves once its banner names GraphiQL and the sandbox:
 * `{ gateway, graphiql, graphql, sandbox, stop }` (URLs as strings, `stop` sends SIGTERM).
 */
export function startDefaultRun(binary, env = {}) {
  const child = spawn(binary, ['--listen', '127.0.0.1:0', '--sandbox-listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  return new Promise((resolve, reject) => {
    let printed = '';
    const failed = (why) => reject(new Error(`the gateway ${why}:\n${printed}`));
    const timer = setTimeout(() => failed('did not start within a minute'), 60_000);
    const exited = (code) => failed(`exited with ${code}`);
    child.on('exit', exited);
    child.stdout.on('data', (chunk) => {
      printed += chunk;
      const graphiql = printed.match(/GraphiQL\s+(http:\/\/\S+)/);
      const sandbox = printed.match(/Sandbox\s+(http:\/\/\S+)/);
      if (graphiql && sandbox) {
        clearTimeout(timer);
        child.off('exit', exited);
        const gateway = new URL(graphiql[1]).origin;
        resolve({
          gateway,
          graphiql: graphiql[1],
          graphql: `${gateway}/graphql`,
          sandbox: sandbox[1],
          stop: () => child.kill('SIGTERM'),
        });
      }
    });
  });
}
