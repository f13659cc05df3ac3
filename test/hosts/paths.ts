// Where the harness keeps things. The cache dir survives runs (base root filesystem,
// apt proxy cache); everything of one run lives under runs/<prefix><id>/ and goes at stop().
import { join } from 'node:path';

export const cacheDir = (): string => process.env.STACK_TEST_CACHE ?? '/var/cache/stack-ts-test';
export const runsDir = (): string => join(cacheDir(), 'runs');
export const locksDir = (): string => join(cacheDir(), 'locks');
