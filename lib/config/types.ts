import type { ServiceName, Settings } from './schema.ts';

/** One `[[post-config|$FILE]]` entry of local.conf, merged into FILE after its plugin wrote it. */
export interface PostConfigEntry {
  /** The variable named in the meta-section, e.g. GLANCE_API_CONF, or an absolute path. */
  readonly target: string;
  readonly section: string;
  readonly key: string;
  readonly value: string;
  /** Where it was written, for error messages: "local.conf:42". */
  readonly origin: string;
}

/** The one typed, frozen result of reading localrc/local.conf. Everything downstream reads only this. */
export interface Config {
  /** Absolute path of the file that was read. */
  readonly file: string;
  readonly settings: Settings;
  readonly services: ReadonlySet<ServiceName>;
  readonly postConfig: readonly PostConfigEntry[];
  /** Absolute path of the 0600 file that holds the passwords. */
  readonly secretsFile: string;
  /**
   * Read-only runs (plan, status): passwords kept nowhere yet, made up for this run only. A stack
   * would generate them once; plan says so beside its diffs.
   */
  readonly inventedSecrets?: readonly string[];
}

export interface ConfigWarning {
  readonly origin: string; // "localrc:12"
  readonly message: string;
}
