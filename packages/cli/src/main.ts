#!/usr/bin/env node
import { runCli } from './cli.js';
import { promptSecret } from './prompt.js';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  stdin: process.stdin,
  env: process.env,
  promptSecret: (prompt) => promptSecret(prompt, process.stdin, process.stderr),
});
