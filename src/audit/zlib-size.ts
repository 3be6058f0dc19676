// zlib entropy of a text for the extraction audit's zlib metric (Carlini et al. 2021, ftramer/LM_Memorization):
// zlibSize(text) = len(zlib.compress(text.encode('utf-8'))) of CPython at the default level 6, in bytes (not bits).
// pako 2 (a port of stock zlib 1.2.x) reproduces CPython's zlib (1.2.13) byte-for-byte; Node 20's built-in
// zlib.deflateSync (Chromium's zlib fork, 1.3.1-e00f703) does not. Measured agreement of compressed lengths with
// CPython 3.11 (/work/venv) on the fixture set (test/fixtures/audit/zlib.json, see test/audit/zlib-size.test.ts):
// pako 165/165 fixture texts and 600/600 live (300 fresh random + the first 300 spam-assassin e-mails) exact;
// node:zlib 116/165 fixture texts and 18/300 spam e-mails. Empty text: 8 bytes.

import { deflate } from 'pako';

const utf8 = new TextEncoder();

/** Bytes of zlib.compress(text.encode('utf-8')) at level 6 (zlib header and Adler-32 trailer included). */
export function zlibSize(text: string): number {
  return deflate(utf8.encode(text), { level: 6 }).length;
}
