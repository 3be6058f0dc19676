#!/bin/sh
':' //; [ "${TESSERA_MALLOC-}" = system ] || [ -n "${TESSERA_MALLOC_TUNED-}" ] || { TESSERA_MALLOC_TUNED=1; GLIBC_TUNABLES="glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736${GLIBC_TUNABLES:+:$GLIBC_TUNABLES}"; export TESSERA_MALLOC_TUNED GLIBC_TUNABLES; }; exec node "$0" "$@"
// tessera CLI launcher. The two lines above are a shell preamble (JavaScript sees a string and a comment): run as an
// executable (`tessera`, `npx tessera`, `./bin/tessera.js`) it starts node with glibc malloc tuned for training, in
// the same process (exec, so signals and kill -9 reach tessera itself):
//   hugetlb=1        transparent huge pages for malloc'd memory (far fewer page faults on multi-GB tensors)
//   mmap_max=0 + trim_threshold  keep freed memory in the heap for reuse instead of returning it to the kernel
// onnxruntime-node hands every output back in a freshly allocated buffer (1.5 GB per GPT-2-small training step);
// with glibc's defaults each step maps and faults that memory anew, which costs ~25% of the step (bench/README.md).
// TESSERA_MALLOC=system skips the tuning; your own GLIBC_TUNABLES are appended and win. `node bin/tessera.js` runs
// without it. Then: register tsx so the TypeScript sources run directly (no build step) and hand over to src/cli.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
