// The benchmark runs and writes what the README shows: the JSON shape, the markdown table, the chart.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';

const runner = fileURLToPath(new URL('../bench/run.js', import.meta.url));
const names = ['lockedfile/flock', 'lockedfile/pidfile', 'proper-lockfile', 'lockfile', 'fs-ext'];

test('bench --quick --only uncontended,crash writes latest.json, .md and .svg with every implementation', async (t) => {
  const out = tempDir(t);
  const result = await run(process.execPath, [runner, '--quick', '--only', 'uncontended,crash', '--out', out]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /\[1\/2 uncontended\]/, 'a progress line names the scenario');
  const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
  assert.equal(report.machine.node, process.version);
  assert.ok(report.machine.cpus >= 1 && report.machine.os);
  assert.deepEqual(
    report.scenarios.map((scenario) => scenario.name),
    ['uncontended', 'crash'],
  );
  for (const scenario of report.scenarios) {
    assert.deepEqual(scenario.results.map((result) => result.impl).filter((impl) => names.includes(impl)).sort(), [...names].sort(), scenario.name);
    for (const result of scenario.results) {
      if (result.value === null) assert.ok(result.error, `${result.impl}: a missing figure says why`);
      else assert.ok(Number.isFinite(result.value) && result.value > 0, `${scenario.name} ${result.impl}: ${result.value}`);
    }
  }
  const flock = (name) => report.scenarios.find((scenario) => scenario.name === name).results.find((result) => result.impl === 'lockedfile/flock').value;
  assert.ok(flock('crash') < 1000, `a flock waiter gets a SIGKILLed holder's lock at once (${flock('crash')} ms)`);
  const markdown = readFileSync(join(out, 'latest.md'), 'utf8');
  assert.equal(markdown, result.stdout.trimEnd() + (markdown.endsWith('\n') ? '\n' : ''));
  assert.match(markdown, /\| lockedfile\/flock \| [\d.,]+ \| 1\.00× \|/);
  const svg = readFileSync(join(out, 'latest.svg'), 'utf8');
  assert.match(svg, /^(<\?xml[^>]*>\s*)?<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  for (const name of names) assert.ok(svg.includes(`>${name}<`), `the chart labels ${name}`);
});
