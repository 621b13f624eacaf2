#!/usr/bin/env node
// The `movingdata` command (the CLI itself is src/cli/main.ts).
//
// This entry is plain JavaScript on purpose. Node runs our TypeScript by stripping its types
// with amaro, a WebAssembly module that stays resident (about 10 MiB) once anything is stripped.
// Turning the module compile cache on here, before the first .ts file is read, lets a warm start
// take every module, stripped source and compiled code, from the cache: amaro is never loaded
// and the process starts faster. The cache lives under the OS temp directory unless
// NODE_COMPILE_CACHE names another; NODE_DISABLE_COMPILE_CACHE=1 turns it off.
import { enableCompileCache } from 'node:module';

enableCompileCache();
await import('../src/cli/main.ts');
