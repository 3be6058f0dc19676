// Table 1-style categories of memorized text (Carlini et al. 2021): regular-expression heuristics that tag a verbatim
// run as a URL, e-mail address, phone number, key/UUID, code, licence text, number sequence or e-mail header (the
// bundled corpus is e-mail), 'other' when none fires. A text may fall in several categories.

/** One category: its name (as written to samples.jsonl / results.json) and what it catches. */
export interface CategoryInfo {
  name: string;
  description: string;
}

/** Every category categorize() can return, in report order ('other' last). */
export const CATEGORIES: readonly CategoryInfo[] = [
  { name: 'url', description: 'URLs (http://, https://, ftp://, www.host.tld)' },
  { name: 'email', description: 'e-mail addresses (user@host.tld)' },
  { name: 'phone', description: 'phone numbers (555-123-4567, (555) 123 4567, +44 20 7946 0958)' },
  { name: 'uuid-or-hex-key', description: 'UUIDs, hex strings of 16+ digits, base64-like keys of 24+ characters' },
  { name: 'code', description: 'source code or markup (#include, def, function, braces and semicolons, HTML tags)' },
  { name: 'license', description: 'licence and copyright text (copyright, all rights reserved, GPL, MIT, Apache)' },
  { name: 'number-sequence', description: 'runs of 8+ numbers separated by commas or white space, digit strings of 10+' },
  { name: 'email-header', description: 'e-mail header lines (From:, Received:, Message-ID:, Subject:, …)' },
  { name: 'other', description: 'none of the above' },
];

const URL_RES: readonly RegExp[] = [/\b(?:https?|ftp):\/\/[^\s<>"']+/i, /\bwww\.[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b/i];

const EMAIL_RES: readonly RegExp[] = [/\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/];

const PHONE_RES: readonly RegExp[] = [
  /(?<![\w.-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])/,
  /(?<![\w.+-])\+\d{1,3}(?:[\s.-]\(?\d{1,4}\)?){2,4}(?![\w-])/,
];

const UUID_RE = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/i;
const HEX_RE = /\b(?:0x)?[0-9a-f]{16,}\b/gi;
const BASE64_RE = /[A-Za-z0-9+/]{24,}={0,2}/g;

const CODE_RES: readonly RegExp[] = [
  /^\s*#\s*(?:include|define|ifn?def|endif|import)\b/m,
  /^\s*def\s+\w+\s*\(/m,
  /\bfunction\s*\w*\s*\([^)]*\)\s*\{/,
  /^\s*(?:public|private|static|class|import|package)\s+[\w.]+[^\n]*[;{]\s*$/m,
  /\b(?:var|let|const|int|char|void)\s+\*?\w+\s*(?:=|\(|;)/,
  /<\/?(?:html|head|body|div|span|table|tr|td|th|br|img|script|style|font|center|form|input|ul|ol|li|p|a|b|i|meta|link)\b[^<>]*>/i,
];

const LICENSE_RES: readonly RegExp[] = [
  /\bcopyright\b\s*(?:\(c\)|©|\d{4})/i,
  /(?:\(c\)|©)\s*(?:\d{4}|copyright)/i,
  /\ball rights reserved\b/i,
  /\bGNU (?:Lesser |Library |Affero )?General Public Licen[cs]e\b/i,
  /\b(?:L|A)?GPL(?:v?[23])?\b/,
  /\bMIT Licen[cs]e\b/i,
  /\bApache Licen[cs]e\b/i,
  /\bpermission is hereby granted\b/i,
  /\bwithout warranty of any kind\b/i,
  /\bredistribution and use in source and binary forms\b/i,
  /\blicensed under the\b/i,
];

const NUMBER_RES: readonly RegExp[] = [/(?<![\w.])(?:-?\d+(?:\.\d+)?[,;\s]+){7}-?\d+(?:\.\d+)?(?![\w.])/, /(?<!\w)\d{10,}(?!\w)/];

const HEADER_NAMES =
  'From|To|Cc|Bcc|Received|Message-I[Dd]|Subject|Date|Return-Path|Reply-To|Sender|In-Reply-To|References|Delivered-To|' +
  'Content-Type|Content-Transfer-Encoding|MIME-Version|Precedence|Errors-To|List-[A-Za-z-]+|X-[A-Za-z0-9-]+';
const HEADER_RES: readonly RegExp[] = [
  new RegExp(`^(?:${HEADER_NAMES}):[ \\t]*\\S`, 'm'),
  /^From \S+@\S+\s+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) /m,
];

const anyMatch = (res: readonly RegExp[], text: string): boolean => res.some((re) => re.test(text));

/** Lines ending in ';', '{' or '}' (C-like code): two or more, or one '{…}' block with a ';' inside. */
function braceCode(text: string): boolean {
  const ends = text.split('\n').filter((l) => /[;{}]\s*$/.test(l) && /\S/.test(l.replace(/[;{}\s]/g, ''))).length;
  return ends >= 2 || /\{[^{}]*;[^{}]*\}/.test(text);
}

function isCode(text: string): boolean {
  return anyMatch(CODE_RES, text) || braceCode(text);
}

/** A hex run with at least one letter a–f (pure digit strings are number sequences). */
function hasHexKey(text: string): boolean {
  for (const m of text.matchAll(HEX_RE)) if (/[a-f]/i.test(m[0].replace(/^0x/i, ''))) return true;
  return false;
}

/** A base64-like run mixing upper case, lower case and digits (so not a long word or a digit string). */
function hasBase64Key(text: string): boolean {
  for (const m of text.matchAll(BASE64_RE)) {
    const s = m[0];
    if (/[A-Z]/.test(s) && /[a-z]/.test(s) && /\d/.test(s) && !s.includes('//')) return true;
  }
  return false;
}

function isKey(text: string): boolean {
  return UUID_RE.test(text) || hasHexKey(text) || hasBase64Key(text);
}

const TESTS: readonly [string, (text: string) => boolean][] = [
  ['url', (t) => anyMatch(URL_RES, t)],
  ['email', (t) => anyMatch(EMAIL_RES, t)],
  ['phone', (t) => anyMatch(PHONE_RES, t)],
  ['uuid-or-hex-key', isKey],
  ['code', isCode],
  ['license', (t) => anyMatch(LICENSE_RES, t)],
  ['number-sequence', (t) => anyMatch(NUMBER_RES, t)],
  ['email-header', (t) => anyMatch(HEADER_RES, t)],
];

/** The categories of `text`, in CATEGORIES order; ['other'] when none applies. */
export function categorize(text: string): string[] {
  const found = TESTS.filter(([, test]) => test(text)).map(([name]) => name);
  return found.length ? found : ['other'];
}
