import { describe, expect, it } from 'vitest';
import { secretLine, trailingPrompt } from '../../lib/host/input-wait.ts';

describe('trailingPrompt', () => {
  it('finds the question an output ends with', () => {
    expect(trailingPrompt(['', 'Password: '])).toBe('Password:');
    expect(trailingPrompt(['Confirm password:'])).toBe('Confirm password:');
    expect(trailingPrompt(["Enter passphrase for key '/root/.ssh/id_rsa': "])).toBe("Enter passphrase for key '/root/.ssh/id_rsa':");
    expect(trailingPrompt(['Reading package lists...\nDo you want to continue? [Y/n] '])).toBe('Do you want to continue? [Y/n]');
    expect(trailingPrompt(['Are you sure you want to continue connecting (yes/no/[fingerprint])? '])).toBe(
      'Are you sure you want to continue connecting (yes/no/[fingerprint])?',
    );
    // Elixir's IO.puts (rabbitmqctl without -q) ends the question with a newline: a prompt only
    // for a command past its timeout, since a tool may print it before a slow step.
    expect(trailingPrompt(['Password:\n'], true)).toBe('Password:');
    expect(trailingPrompt(['Adding user "stackrabbit" ...\r\nPassword:\r\n'], true)).toBe('Password:');
    expect(trailingPrompt(['Adding user "stackrabbit" ...\nPassword:\n'])).toBeUndefined();
  });

  it('ignores output that merely mentions a password or went on after the question', () => {
    expect(trailingPrompt([''])).toBeUndefined();
    expect(trailingPrompt(['Password: \nDone. Don\'t forget to grant the user permissions.\n'])).toBeUndefined();
    expect(trailingPrompt(['token: abc\n'])).toBeUndefined();
    expect(trailingPrompt(['Running upgrade 1a2b -> 3c4d, add password_expires_at column\n'])).toBeUndefined();
    expect(trailingPrompt(['Setting up keystone (2:27.0.0-3) ...\n'])).toBeUndefined();
    expect(trailingPrompt(['Setting password for the keystone user:\n', 'done\n'])).toBeUndefined();
    expect(trailingPrompt(['50%'])).toBeUndefined();
  });
});

describe('secretLine', () => {
  it('ends a secret with exactly one newline', () => {
    expect(secretLine('pw')).toBe('pw\n');
    expect(secretLine('pw\n')).toBe('pw\n');
    expect(secretLine('')).toBe('\n');
  });
});
