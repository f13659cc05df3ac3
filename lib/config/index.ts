// The config layer's public face: read a localrc/local.conf into one frozen Config.
export { loadConfig, readConfigFile, secretValues, REPO_ROOT, type DetectInput, type LoadOptions } from './load.ts';
export { parseConfigText, parseAssignments, partsToString, type ParsedConfig, type Assignment, type Part, type Env } from './parse.ts';
export { ConfigError, formatIssue, type ConfigIssue } from './errors.ts';
export { checkValue, closest, editDistance, parseBool, parseTargetHost, splitList, type TargetHost, type ValueProblem } from './validate.ts';
export { generateSecret, resolveSecrets, readSecretsFile, writeSecretsFile, formatSecretsFile, shellQuote, OWN_SECRETS, type PromptFn } from './secrets.ts';
export { ttyPrompt } from './prompt.ts';
export * from './schema.ts';
export type * from './types.ts';
