// Test files that cannot run on a runtime, and why. Everything else in test/ runs on it (see
// run.js); a file here is reported as not run, never skipped silently.
const benchmark = 'the benchmark is a Node tool: it compares process.hrtime() readings across processes, which this runtime counts from each process\'s own start';

export const unsupported = {
  bun: {
    'test/90.bench.test.js': benchmark,
  },
  deno: {
    'test/90.bench.test.js': benchmark,
  },
};
