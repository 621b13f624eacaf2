#!/usr/bin/env -S node --max-semi-space-size=1
// The `movingdata` command (the CLI itself is src/cli/main.ts).
//
// --max-semi-space-size=1 (MiB) keeps V8's young generation small. Streams allocate little
// JavaScript per 64 KiB Buffer they move, and a dead young Buffer waits for a collection, which
// V8 starts when the young generation is full of JavaScript objects; at its default size (up to
// 32 MiB semi-spaces) a server moving bytes piled up far more dead Buffers. Measured on the lab,
// 1 GiB PUT then GET /files on aws, without vs with the flag: at rest 175 vs 137 MiB, peaks
// 288–315 vs 214–245 MiB, PUT 125–143 vs 172–177 MiB/s. (It has to be on the command line:
// V8 sizes its heap before any script runs.)
//
// This entry is plain JavaScript on purpose. Node runs our TypeScript by stripping its types
// with amaro, a WebAssembly module that stays resident (about 10 MiB) once anything is stripped.
// Turning the module compile cache on here, before the first .ts file is read, lets a warm start
// take every module, stripped source and compiled code, from the cache: amaro is never loaded
// and the process starts faster. The cache lives under the OS temp directory unless
// NODE_COMPILE_CACHE names another; NODE_DISABLE_COMPILE_CACHE=1 turns it off.
//
// It also checks Node's version first, so that an older `node` on the PATH gets one clear line,
// not a stack trace from the first TypeScript file it cannot read.
import console from 'node:console';
import module from 'node:module';
import process from 'node:process';

const MIN_NODE = 24;
if (Number(process.versions.node.split('.')[0]) < MIN_NODE) {
  console.error(
    `movingdata: needs Node.js ${MIN_NODE} or later, and this is ${process.version}. ` +
      `From the project's directory, \`npx movingdata\` runs it with the project's own Node ${MIN_NODE}.`,
  );
  process.exit(2);
}
module.enableCompileCache();
await import('../src/cli/main.ts');
