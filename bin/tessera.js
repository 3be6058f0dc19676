#!/bin/sh
':' //; [ "${TESSERA_MALLOC-}" = system ] || [ -n "${TESSERA_MALLOC_TUNED-}" ] || { TESSERA_MALLOC_TUNED=1; GLIBC_TUNABLES="glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736${GLIBC_TUNABLES:+:$GLIBC_TUNABLES}"; export TESSERA_MALLOC_TUNED GLIBC_TUNABLES; }; exec node "$0" "$@"
// tessera CLI launcher. The two lines above are a shell preamble (JavaScript sees a string and a comment): run as an
// executable (`tessera`, `npx tessera`, `./bin/tessera.js`, the npm scripts) it starts node with glibc malloc set to
// keep freed memory for reuse (mmap_max=0: large blocks come from the heap, not fresh mappings; trim_threshold: the
// heap is not handed back to the kernel), in the same process (exec, so signals and kill -9 reach tessera itself).
// Why: onnxruntime-node returns every output of a run in a freshly allocated buffer (1.5 GB per GPT-2-small training
// step); with glibc's defaults each step maps and page-faults that memory anew, ~20% of the step (bench/README.md).
// (Transparent huge pages, glibc.malloc.hugetlb=1, helped training a little more but cut KV-cache decoding by a third.)
// TESSERA_MALLOC=system skips the tuning; your own GLIBC_TUNABLES are appended and win. `node bin/tessera.js` runs
// without it. Then: register tsx so the TypeScript sources run directly (no build step) and hand over to src/cli.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
