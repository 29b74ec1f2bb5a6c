// Shared by the stress suites (80-82): the long-run switch, a temp folder whose processes are
// killed before it is removed, and what a hand-edited JSONC file must keep through any number
// of updates.
import { SyntaxKind, createScanner } from 'jsonc-parser';
import { spawnChild } from './children.js';
import { tempDir } from './temp.js';

/** STRESS=1 in the environment runs the long variants (minutes, not seconds). */
export const STRESS = process.env.STRESS === '1';

/**
 * arena gives a test a fresh folder and `spawn`, which starts a program (like spawnChild) in
 * its own process group. When the test ends, every group is SIGKILLed, shells' children
 * (flock(1), sleep) included, and waited for, before the folder is removed.
 */
export function arena(t) {
  const children = [];
  t.after(async () => {
    for (const child of children) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the whole group is gone already
      }
    }
    await Promise.all(children.map((child) => child.exited));
  });
  const dir = tempDir(t);
  const spawn = (command, args, options = {}) => {
    const child = spawnChild(t, command, args, { cwd: dir, ...options, detached: true });
    // 'close' comes after the last line of output has been read; 'exit' may come before it.
    child.closed = new Promise((resolve) => child.proc.once('close', resolve));
    children.push(child);
    return child;
  };
  return { dir, spawn };
}

/** The comments of a JSONC text, in order, each exactly as written (delimiters included). */
export function commentsOf(text) {
  const scanner = createScanner(text, false);
  const comments = [];
  for (let kind = scanner.scan(); kind !== SyntaxKind.EOF; kind = scanner.scan()) {
    if (kind === SyntaxKind.LineCommentTrivia || kind === SyntaxKind.BlockCommentTrivia) {
      comments.push(text.slice(scanner.getTokenOffset(), scanner.getTokenOffset() + scanner.getTokenLength()));
    }
  }
  return comments;
}
