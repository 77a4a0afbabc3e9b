import { UsageError } from './errors.js';

/**
 * Reading a password at a terminal without echoing it, as `sudo` and `ssh` do: the terminal is put in raw
 * mode for the one line, so the typed characters never reach the screen, and restored afterwards however
 * the line ends.
 */

/** What the keys typed so far make: the secret, or how the line ended. */
export type SecretInput = { state: 'typing'; secret: string } | { state: 'done'; secret: string } | { state: 'cancelled' };

const ENTER = new Set(['\r', '\n']);
const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const CTRL_U = '\u0015';
const BACKSPACE = new Set(['\u007f', '\b']);

/**
 * Applies typed characters to the secret so far. Enter ends the line; Ctrl-C cancels; Ctrl-D ends it too
 * (on an empty line it cancels, as end of input); Backspace removes the last character and Ctrl-U the whole
 * line. Other control characters, and the escape sequences of arrow keys, are ignored.
 */
export function typeSecret(secret: string, typed: string): SecretInput {
  let current = [...secret];
  let escape = false;
  for (const char of typed) {
    if (escape) {
      // An escape sequence (ESC [ A for an arrow key) ends at its first letter or `~`.
      if (/[A-Za-z~]/.test(char)) escape = false;
      continue;
    }
    if (ENTER.has(char)) return { state: 'done', secret: current.join('') };
    if (char === CTRL_C) return { state: 'cancelled' };
    if (char === CTRL_D) return current.length === 0 ? { state: 'cancelled' } : { state: 'done', secret: current.join('') };
    if (char === CTRL_U) current = [];
    else if (BACKSPACE.has(char)) current.pop();
    else if (char === '\u001b') escape = true;
    else if (char >= ' ') current.push(char);
  }
  return { state: 'typing', secret: current.join('') };
}

/**
 * Prompts on `output` and reads one line from `input` without echo. Resolves to undefined when `input` is
 * not a terminal (the caller then reads the secret some other way); rejects with a UsageError when the
 * user cancels or the terminal goes away.
 */
export function promptSecret(prompt: string, input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<string | undefined> {
  if (!input.isTTY) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    let secret = '';
    const finish = (): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      try {
        input.setRawMode(false);
      } catch {
        // The terminal is already gone: nothing left to restore.
      }
      input.pause();
      output.write('\n');
    };
    const onData = (chunk: string): void => {
      const result = typeSecret(secret, chunk);
      if (result.state === 'typing') {
        secret = result.secret;
        return;
      }
      finish();
      if (result.state === 'done') resolve(result.secret);
      else reject(new UsageError('cancelled'));
    };
    const onEnd = (): void => {
      finish();
      reject(new UsageError('cancelled'));
    };
    // Echo goes off before the prompt appears: whatever is typed once it shows is never displayed.
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', onData);
    input.once('end', onEnd);
    input.resume();
    output.write(prompt);
  });
}
