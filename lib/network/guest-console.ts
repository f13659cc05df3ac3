// What a booted guest's serial console says of its network, for the images verify knows: CirrOS
// (udhcpc in 0.5, dhcpcd in 0.6; its metadata check) and stack.ts's own test image (STACKTS-DHCP,
// STACKTS-METADATA lines). Another image says nothing here, and verify then relies on the floating IP alone.

export type ConsoleFinding = { readonly kind: 'ok'; readonly value: string } | { readonly kind: 'failed'; readonly reason: string };

const DHCP_OK = [
  /STACKTS-DHCP \S+ (\d+\.\d+\.\d+\.\d+)\/\d+/, // the test image
  /[Ll]ease of (\d+\.\d+\.\d+\.\d+) obtained/, // CirrOS 0.5 (udhcpc)
  /\bleased (\d+\.\d+\.\d+\.\d+) for \d+ seconds/, // CirrOS 0.6 (dhcpcd)
];
const DHCP_FAILED = [/STACKTS-DHCP-FAILED (.*)/, /(No lease, failing)/, /(dhcpcd.*timed out)/];
const METADATA_OK = [/STACKTS-METADATA instance-id (\S+)/, /successful after \d+\/\d+ tries: up [\d.]+\. iid=(\S+)/];
const METADATA_FAILED = [/STACKTS-METADATA-FAILED (.*)/, /(failed to read iid from metadata\.[^\n]*)/];

function find(text: string, ok: readonly RegExp[], failed: readonly RegExp[]): ConsoleFinding | undefined {
  for (const re of ok) {
    const m = re.exec(text);
    if (m) return { kind: 'ok', value: m[1]! };
  }
  for (const re of failed) {
    const m = re.exec(text);
    if (m) return { kind: 'failed', reason: m[1]!.trim() };
  }
  return undefined;
}

/** The address the guest says DHCP gave it, or why it got none; undefined when the image does not say. */
export const dhcpOnConsole = (text: string): ConsoleFinding | undefined => find(text, DHCP_OK, DHCP_FAILED);

/** The instance id the guest read from the metadata service, or why it could not; undefined when the image does not say. */
export const metadataOnConsole = (text: string): ConsoleFinding | undefined => find(text, METADATA_OK, METADATA_FAILED);

/**
 * Pure: whether a guest's console has said all verify waits for - its DHCP verdict and, where
 * wanted, its metadata read's - or a failure of either, which ends the wait at once.
 */
export function consoleSettled(text: string, wantMetadata: boolean): boolean {
  const dhcp = dhcpOnConsole(text);
  const md = metadataOnConsole(text);
  return dhcp?.kind === 'failed' || md?.kind === 'failed' || (dhcp !== undefined && (!wantMetadata || md !== undefined));
}
