#!/usr/bin/env node
// The warmboot command's entry point (what src/warmboot-launcher.sh runs).
// Unless the arguments ask for no JIT, it starts reading and compiling
// Binaryen's binary on other threads first, then loads the rest of warmboot
// (about 50 ms of module loading, which that work overlaps) and runs it.
import { prefetchBinaryen } from '../jit/binaryen.js';

const args = process.argv.slice(2);
if (!skipsBinaryen(args)) void prefetchBinaryen();
const { main } = await import('./cli.js');
process.exitCode = await main(args);

/**
 * A quick look at the arguments before they are parsed (parsing reads the
 * images): help, the version, or --jit=off in any of its spellings. A wrong
 * guess only costs the work done ahead.
 */
function skipsBinaryen(argv: readonly string[]): boolean {
  return argv.some((a, i) => /^--?(h|help|version)$/.test(a) || /^--?jit=off$/.test(a) || (/^--?jit$/.test(a) && argv[i + 1] === 'off'));
}
