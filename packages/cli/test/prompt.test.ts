import { describe, expect, it } from 'vitest';
import { typeSecret } from '../src/prompt.js';

describe('typeSecret (the keys of a password prompt)', () => {
  it('ends the line on Enter, whether the terminal sends CR or LF', () => {
    expect(typeSecret('', 'hunter2\r')).toEqual({ state: 'done', secret: 'hunter2' });
    expect(typeSecret('hun', 'ter2\n')).toEqual({ state: 'done', secret: 'hunter2' });
  });

  it('keeps typing across chunks, and ignores what follows Enter', () => {
    const first = typeSecret('', 'pass');
    expect(first).toEqual({ state: 'typing', secret: 'pass' });
    expect(typeSecret('pass', 'word\rleftover')).toEqual({ state: 'done', secret: 'password' });
  });

  it('edits: Backspace (DEL or BS) removes the last character, Ctrl-U the whole line', () => {
    expect(typeSecret('', 'abcd\u007f\u007fx\r')).toEqual({ state: 'done', secret: 'abx' });
    expect(typeSecret('', 'ab\bc\r')).toEqual({ state: 'done', secret: 'ac' });
    expect(typeSecret('', '\u007fa\r')).toEqual({ state: 'done', secret: 'a' });
    expect(typeSecret('', 'wrong\u0015right\r')).toEqual({ state: 'done', secret: 'right' });
  });

  it('removes a whole character, not half of one, and keeps non-ASCII passwords', () => {
    expect(typeSecret('', 'p\u00e4ss\u{1f511}\u007f\r')).toEqual({ state: 'done', secret: 'p\u00e4ss' });
  });

  it('cancels on Ctrl-C, and on Ctrl-D at an empty line; Ctrl-D after text ends the line', () => {
    expect(typeSecret('', 'abc\u0003')).toEqual({ state: 'cancelled' });
    expect(typeSecret('', '\u0004')).toEqual({ state: 'cancelled' });
    expect(typeSecret('', 'abc\u0004')).toEqual({ state: 'done', secret: 'abc' });
  });

  it('ignores arrow keys and other control characters', () => {
    expect(typeSecret('', 'a\u001b[Ab\u001b[1;5Cc\t\u0007\r')).toEqual({ state: 'done', secret: 'abc' });
  });
});
