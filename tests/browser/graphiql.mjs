// GraphiQL in a real browser: starts the gateway's default run (free ports, no configuration),
// opens GraphiQL in headless Chromium and checks that it renders, runs the example dashboard,
// lists the schema's types in the Docs pane, and receives a subscription event triggered
// through the sandbox. Every request the page makes must stay on the gateway: one to any other
// host fails the test. Screenshots go to target/browser-test/.
//
//   node tests/browser/graphiql.mjs target/release/heymarket-gateway
//
// Chromium is found on PATH (`chromium`, Debian's package) or at $CHROMIUM.
import { existsSync, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { startDefaultRun } from '../default-run.mjs';

const binary = process.argv[2];
if (!binary) {
  console.error('usage: node graphiql.mjs <path to the heymarket-gateway binary>');
  process.exit(2);
}
/** How long any one step may take. */
const STEP = 15_000;
const screenshots = fileURLToPath(new URL('../../target/browser-test/', import.meta.url));

const chromium =
  process.env.CHROMIUM ||
  (process.env.PATH ?? '')
    .split(delimiter)
    .map((directory) => join(directory, 'chromium'))
    .find((path) => existsSync(path));
if (!chromium) {
  console.error('no chromium on PATH (apt-get install chromium), and $CHROMIUM is not set');
  process.exit(2);
}

const run = await startDefaultRun(binary, { RUST_LOG: 'warn' });
// However this script ends, the gateway stops with it.
process.on('exit', run.stop);
const browser = await puppeteer.launch({
  executablePath: chromium,
  // CI runs as root in a container, where Chromium's own sandbox cannot start.
  args: ['--no-sandbox'],
  defaultViewport: { width: 1400, height: 900 },
});
const page = await browser.newPage();
page.setDefaultTimeout(STEP);

/** URLs the page tried to load from anywhere but the gateway. */
const elsewhere = [];
/** What the page reported as broken: script errors, failed requests. */
const complaints = [];
const gatewayHost = new URL(run.gateway).host;
const onGateway = (url) => url.startsWith('data:') || new URL(url).host === gatewayHost;

await page.setRequestInterception(true);
page.on('request', (request) => {
  if (onGateway(request.url())) {
    request.continue();
  } else {
    elsewhere.push(request.url());
    request.abort('blockedbyclient');
  }
});
// WebSockets do not pass request interception; the protocol reports them.
const cdp = await page.createCDPSession();
await cdp.send('Network.enable');
cdp.on('Network.webSocketCreated', ({ url }) => {
  if (!onGateway(url.replace(/^ws/, 'http'))) elsewhere.push(url);
});
page.on('pageerror', (error) => complaints.push(`script error: ${error.message}`));
page.on('requestfailed', (request) => {
  if (onGateway(request.url())) {
    complaints.push(`failed: ${request.url()} ${request.failure()?.errorText}`);
  }
});
page.on('response', (response) => {
  if (response.status() >= 400) complaints.push(`${response.status()}: ${response.url()}`);
});

/** The query editor's or the result pane's CodeMirror text. */
const editorText = (selector) =>
  page.$eval(`${selector} .CodeMirror`, (element) => element.CodeMirror.getValue());

/** Runs one operation of the example document as a user would: cursor in it, Ctrl-Enter. */
async function runOperation(name) {
  await page.$eval(
    '.graphiql-query-editor .CodeMirror',
    (element, name) => {
      const editor = element.CodeMirror;
      const line = editor
        .getValue()
        .split('\n')
        .findIndex((text) => text.match(/^(query|mutation|subscription) (\w+)/)?.[2] === name);
      if (line < 0) throw new Error(`no operation ${name} in the editor`);
      editor.focus();
      editor.setCursor({ line: line + 1, ch: 0 });
    },
    name,
  );
  await page.keyboard.down('Control');
  await page.keyboard.press('Enter');
  await page.keyboard.up('Control');
}

/** The result pane's JSON once `accept` takes it, within `timeout` milliseconds. */
async function result(accept, timeout = STEP) {
  const deadline = Date.now() + timeout;
  let last = '';
  while (Date.now() < deadline) {
    last = await editorText('.graphiql-response');
    try {
      const parsed = JSON.parse(last);
      if (accept(parsed)) return parsed;
    } catch {
      // Not a whole JSON document yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the result pane did not show what was expected; it shows:\n${last}`);
}

const steps = [
  [
    'GraphiQL renders, opened on the example document',
    async () => {
      await page.goto(run.graphiql, { waitUntil: 'load' });
      await page.waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror');
      const document = await editorText('.graphiql-query-editor');
      if (!document.includes('query Dashboard')) throw new Error(`the editor holds:\n${document}`);
    },
  ],
  [
    'the Dashboard operation shows rows in the result pane',
    async () => {
      await runOperation('Dashboard');
      const answer = await result((json) => 'data' in json || 'errors' in json);
      const rows = answer.data?.conversations?.nodes ?? [];
      if (answer.errors || rows.length === 0) throw new Error(JSON.stringify(answer, null, 2));
      return `${rows.length} conversations`;
    },
  ],
  [
    'the Docs pane lists Conversation',
    async () => {
      await page.click('button[aria-label="Show Documentation Explorer"]');
      await page.waitForFunction(() =>
        [...document.querySelectorAll('.graphiql-doc-explorer a')].some(
          (link) => link.textContent === 'Conversation',
        ),
      );
    },
  ],
  [
    'a subscription receives a message sent in through the sandbox',
    async () => {
      await runOperation('LiveMessages');
      await page.waitForSelector('button.graphiql-execute-button[aria-label^="Stop"]');
      // The subscription is live on the gateway some time after the page sends it: send
      // messages until one arrives.
      const deadline = Date.now() + STEP;
      for (let attempt = 1; Date.now() < deadline; attempt += 1) {
        const text = `Hello from the browser test, ${attempt}`;
        const sent = await fetch(`${run.sandbox}/_sandbox/inbound`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inbox_id: 3001, phone: '12125550123', text }),
        });
        if (!sent.ok) throw new Error(`the sandbox answered ${sent.status}: ${await sent.text()}`);
        try {
          const event = await result(
            (json) => json.data?.messageAdded?.text?.startsWith('Hello from the browser test'),
            1_000,
          );
          return `received "${event.data.messageAdded.text}"`;
        } catch (error) {
          if (Date.now() >= deadline) throw error;
        }
      }
      throw new Error('no event arrived');
    },
  ],
];

let failed = false;
for (const [name, step] of steps) {
  try {
    const detail = await step();
    if (elsewhere.length > 0) throw new Error('the page sent requests to other hosts');
    console.log(`ok   ${name}${detail ? ` (${detail})` : ''}`);
  } catch (error) {
    failed = true;
    mkdirSync(screenshots, { recursive: true });
    const path = `${screenshots}failure.png`;
    await page.screenshot({ path }).catch(() => {});
    console.log(`FAIL ${name}: ${error.message}`);
    for (const url of elsewhere) console.log(`     request to another host: ${url}`);
    for (const complaint of complaints) console.log(`     ${complaint}`);
    console.log(`     screenshot: ${path}`);
    break;
  }
}
if (!failed) {
  mkdirSync(screenshots, { recursive: true });
  const path = `${screenshots}graphiql.png`;
  await page.screenshot({ path });
  console.log(`GraphiQL in Chromium at ${run.graphiql}: every check passed (screenshot: ${path})`);
}
await browser.close();
process.exit(failed ? 1 : 0);
