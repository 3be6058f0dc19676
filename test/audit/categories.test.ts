// Tests for the Table 1-style categorizer: a positive and a negative example (or several) for every category, the
// 'other' fallback, multi-label texts and the CATEGORIES list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATEGORIES, categorize } from '../../src/audit/categories.js';

const has = (text: string, cat: string) => categorize(text).includes(cat);

const CASES: Record<string, { yes: string[]; no: string[] }> = {
  url: {
    yes: ['see http://example.com/path?q=1 for more', 'https://spamassassin.apache.org', 'visit www.example.co.uk today', 'ftp://ftp.gnu.org/pub'],
    no: ['the meeting is at noon', 'file.txt and notes.doc', 'http is a protocol'],
  },
  email: {
    yes: ['write to jm@jmason.org please', 'Reply: first.last+tag@mail.example.com'],
    no: ['at the @ sign', 'user at example dot com', 'a@b'],
  },
  phone: {
    yes: ['call 555-123-4567 now', 'Tel: (555) 123-4567', 'phone +44 20 7946 0958', 'fax 1-800-555-0199'],
    no: ['the year 2002 was long', 'version 1.2.3', 'on 2002-09-12 at 10:30', 'IP 192.168.0.1'],
  },
  'uuid-or-hex-key': {
    yes: [
      'id 123e4567-e89b-12d3-a456-426614174000',
      'sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709',
      'key 0xdeadbeefcafebabe1234',
      'iD8DBQE9g3Kq2bG8fXb0jLQRAlYzAJ9Xk7q1',
    ],
    no: ['a regular sentence with words', 'deadbeef is short', 'internationalization and localization', '12345678901234567890'],
  },
  code: {
    yes: [
      '#include <stdio.h>\nint main() { return 0; }',
      'def main(argv):\n    return 1',
      'function add(a, b) { return a + b; }',
      'x = 1;\ny = 2;\n',
      '<html><body><p>Hello</p></body></html>',
      'const x = require("fs");',
    ],
    no: ['I think so; do you agree?', 'We will define the plan tomorrow.', 'a < b and c > d', 'the function of the committee'],
  },
  license: {
    yes: [
      'Copyright (c) 2002 Justin Mason',
      'Copyright 1999-2002 the authors. All rights reserved.',
      'under the terms of the GNU General Public License',
      'released under the GPL',
      'Permission is hereby granted, free of charge, to any person',
      'Licensed under the Apache License, Version 2.0',
      'This is the MIT License text',
    ],
    no: ['I copied the right file', 'the rights of the people', 'permission was denied', 'he is licensed to drive'],
  },
  'number-sequence': {
    yes: ['1, 2, 3, 4, 5, 6, 7, 8', '10 20 30 40 50 60 70 80 90', '3.14\n2.71\n1.41\n1.73\n2.23\n0.57\n1.61\n4.66', 'order 12345678901'],
    no: ['1, 2, 3 and 4', 'in 2002 and 2003', 'call 555-123-4567', 'room 101'],
  },
  'email-header': {
    yes: [
      'From: Justin Mason <jm@jmason.org>\nDate: Thu, 12 Sep 2002',
      'Received: from localhost (localhost [127.0.0.1])',
      'Message-Id: <20020912.abc@example.com>',
      'Subject: Re: new sequences window',
      'From jm@jmason.org  Thu Sep 12 10:00:00 2002',
      'X-Spam-Status: No, hits=-5.0',
    ],
    no: ['He came from: nowhere', 'the subject of the talk', 'Subject:', 'received from the bank'],
  },
};

for (const [cat, { yes, no }] of Object.entries(CASES)) {
  test(`categorize: ${cat} positives`, () => {
    for (const t of yes) assert.ok(has(t, cat), `${JSON.stringify(t)} should be ${cat}; got ${categorize(t).join(',')}`);
  });
  test(`categorize: ${cat} negatives`, () => {
    for (const t of no) assert.ok(!has(t, cat), `${JSON.stringify(t)} should not be ${cat}; got ${categorize(t).join(',')}`);
  });
}

test('categorize: other when nothing fires, never mixed with others', () => {
  assert.deepEqual(categorize('the quick brown fox jumps over the lazy dog'), ['other']);
  assert.deepEqual(categorize(''), ['other']);
  assert.ok(!categorize('see http://example.com').includes('other'));
});

test('categorize: several categories at once, in CATEGORIES order', () => {
  const cats = categorize('From: Justin Mason <jm@jmason.org>\nvisit http://jmason.org/ or call 555-123-4567');
  assert.deepEqual(cats, ['url', 'email', 'phone', 'email-header']);
});

test('CATEGORIES: every name categorize can return, each with a description', () => {
  const names = CATEGORIES.map((c) => c.name);
  assert.deepEqual(names, ['url', 'email', 'phone', 'uuid-or-hex-key', 'code', 'license', 'number-sequence', 'email-header', 'other']);
  for (const c of CATEGORIES) assert.ok(c.description.length > 0 && !c.description.includes('\n'));
  for (const cases of Object.values(CASES)) for (const t of cases.yes) for (const c of categorize(t)) assert.ok(names.includes(c));
});
