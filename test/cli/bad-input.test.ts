// Bad input of every kind (command line, localrc, local.conf, hosts file, environment) exits 2 with
// a message naming file:line and what to do, before anything changes: the checksums of every
// directory a stack writes on this host, and of the config directory, are the same afterwards.
// A password in a bad value is never echoed.
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSilentSshd, writeClientKey, writeKnownHosts, type SilentSshd } from '../fixtures/silent-sshd.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const WATCHED = ['/etc/mysql', '/etc/rabbitmq', '/etc/memcached.conf', '/etc/keystone', '/etc/glance', '/etc/placement', '/etc/nova', '/etc/neutron', '/etc/openstack', '/var/lib/stack-ts', '/var/log/stack-ts'];

function snapshot(roots: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string) => {
    if (!existsSync(p) && !lstatSync(p, { throwIfNoEntry: false })) return void (out[p] = 'missing');
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return void (out[p] = `link ${readlinkSync(p)}`);
    if (st.isDirectory()) {
      out[p] = `dir ${st.mode}`;
      // The lock beside the config is taken (and released) before the config is read: not a change.
      for (const e of readdirSync(p)) if (e !== '.stack') walk(join(p, e));
    } else if (!st.isFile()) out[p] = `special ${st.mode}`; // a fifo: reading it would hang
    else out[p] = `${st.mode} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
  };
  roots.forEach(walk);
  return out;
}

interface Case {
  readonly name: string;
  /** localrc lines (a local.conf when `file` says so); none: no config file is written. */
  readonly lines?: readonly string[];
  readonly file?: 'localrc' | 'local.conf';
  readonly args?: readonly string[];
  /** The command run on the case's config file (default stack); ignored when args are given. */
  readonly command?: 'stack' | 'plan' | 'unstack' | 'clean';
  /** Symbolic links to make in the case's directory: name -> target. */
  readonly links?: Record<string, string>;
  readonly env?: Record<string, string>;
  readonly files?: Record<string, string>;
  /** Directories to make in the case's directory. */
  readonly mkdirs?: readonly string[];
  /** Named pipes to make in the case's directory. */
  readonly fifos?: readonly string[];
  /**
   * TARGET_HOST is the silent SSH server (takes the login, never answers a command), with a key
   * and a known_hosts file for it in the case's directory: put these lines first.
   */
  readonly silentHost?: boolean;
  /** A case that used to hang: it must be answered within 10 s (beyond starting ./stack.ts). */
  readonly timed?: boolean;
  readonly stderr: RegExp;
  /** Must not appear in any output. */
  readonly secret?: string;
}

/** A local image for plan's preflight: the default's server is not reachable from a test machine. */
const LOCAL_IMAGE = `IMAGE_URLS=${resolve(import.meta.dirname, 'bad-input.test.ts')}`;
// Every case that gets past the config would try to reach this closed port, never this machine.
const NOWHERE = 'TARGET_HOST=root@127.0.0.1:9';
/** A hosts file whose hosts are closed loopback ports: a case that passed validation would reach nothing. */
const hostsFile = (...hosts: string[]): Record<string, string> => ({ 'hosts.yaml': `hosts:\n${hosts.join('')}` });
const host = (name: string, address: string, roles: string, more = ''): string => `  - name: ${name}\n    address: ${address}\n    roles: [${roles}]\n${more}`;

const CASES: Case[] = [
  // --- command line
  { name: '--config with an empty name', args: ['--config', ''], stderr: /--config was given an empty file name/ },
  { name: 'an unknown command', args: ['bogus'], stderr: /Unknown command "bogus"/ },
  { name: 'two commands', args: ['plan', 'stack'], stderr: /One command at a time; got: plan stack/ },
  { name: 'an unknown option', args: ['--nope'], stderr: /Unknown option '--nope'/ },
  { name: 'a config file that does not exist', args: ['--config', '/nonexistent/localrc'], stderr: /config file not found \(looked for \/nonexistent\/localrc\)/ },
  // --- localrc: addresses
  { name: 'HOST_IP out of range', lines: ['HOST_IP=999.1.1.1'], stderr: /localrc:2: HOST_IP=999\.1\.1\.1 is not an IPv4 address/ },
  { name: 'SERVICE_HOST with a blank', lines: ['SERVICE_HOST="my host"'], stderr: /localrc:2: SERVICE_HOST="my host" contains a blank/ },
  { name: 'SERVICE_HOST as a URL', lines: ['SERVICE_HOST=http://10.0.0.5:5000'], stderr: /localrc:2: SERVICE_HOST=http:\/\/10\.0\.0\.5:5000 is a URL/ },
  { name: 'SERVICE_HOST with a port', lines: ['SERVICE_HOST=10.0.0.5:5000'], stderr: /localrc:2: SERVICE_HOST=10\.0\.0\.5:5000 has a port/ },
  { name: 'RABBIT_HOST smuggling a memcached option', lines: ["RABBIT_HOST='127.0.0.1 -l 0.0.0.0'"], stderr: /localrc:2: RABBIT_HOST="127\.0\.0\.1 -l 0\.0\.0\.0" contains a blank/ },
  { name: 'MariaDB on 0.0.0.0', lines: ['DATABASE_HOST=0.0.0.0'], stderr: /localrc:2: DATABASE_HOST=0\.0\.0\.0 is the wildcard address: MariaDB/ },
  { name: 'memcached on ::', lines: ['RABBIT_HOST=::'], stderr: /localrc:2: RABBIT_HOST=:: is the wildcard address: RabbitMQ and memcached/ },
  { name: 'a host name with an empty label', lines: ['SERVICE_HOST=a..b'], stderr: /localrc:2: SERVICE_HOST=a\.\.b is neither an IP address nor a host name/ },
  { name: 'a comment glued to an address', lines: ['DATABASE_HOST=127.0.0.1#db'], stderr: /localrc:2: DATABASE_HOST=127\.0\.0\.1#db contains '#'/ },
  // --- localrc: paths
  { name: 'a state dir with a shell command', lines: ["STACK_STATE_DIR='/var/lib/stack ts;touch /tmp/x'"], stderr: /localrc:2: STACK_STATE_DIR=.* contains characters a path of stack\.ts's may not hold/ },
  { name: 'a log dir glob', lines: ['LOGDIR=/var/log/*'], stderr: /localrc:2: LOGDIR="\/var\/log\/\*" contains characters/ },
  { name: 'LOGDIR=/', lines: ['LOGDIR=/'], stderr: /localrc:2: LOGDIR=\/ is the root directory/ },
  { name: 'a top-level state dir', lines: ['STACK_STATE_DIR=/var'], stderr: /localrc:2: STACK_STATE_DIR=\/var is a top-level directory/ },
  { name: 'a relative log dir', lines: ['LOGDIR=logs/x'], stderr: /localrc:2: LOGDIR=logs\/x is not an absolute path/ },
  { name: 'a path with ..', lines: ['LOGDIR=/var/log/../x'], stderr: /localrc:2: LOGDIR=\/var\/log\/\.\.\/x contains \. or \.\. components/ },
  // --- localrc: passwords
  { name: 'an unset $NAME in a password', lines: ['ADMIN_PASSWORD=Pa$sword123'], stderr: /localrc:2: the value of ADMIN_PASSWORD expands a variable that is not set/, secret: 'sword123' },
  { name: "ANSI-C quoting in a password", lines: ["ADMIN_PASSWORD=$'line1\\nline2'"], stderr: /localrc:2: ANSI-C quoting \$'\.\.\.' in the value of ADMIN_PASSWORD is not supported/, secret: 'line1' },
  { name: 'a shell special parameter in a password', lines: ['DATABASE_PASSWORD=ab$1cd'], stderr: /localrc:2: the value of DATABASE_PASSWORD holds a shell special parameter/, secret: 'ab$1cd' },
  { name: 'TARGET_HOST built from a password', lines: ["ADMIN_PASSWORD='s3cretPw'", 'TARGET_HOST=${ADMIN_PASSWORD}x!'], stderr: /localrc:3: TARGET_HOST=\*\*\*x! is neither "local" nor \[user@\]host\[:port\]/, secret: 's3cretPw' },
  { name: 'an unterminated quote in a password', lines: ["RABBIT_PASSWORD='abc"], stderr: /localrc:2: unterminated single quote in the value of RABBIT_PASSWORD/, secret: 'abc' },
  // --- localrc: syntax and types
  { name: 'command substitution', lines: ['HOST_IP=$(hostname -i)'], stderr: /localrc:2: command substitution in the value of HOST_IP is not supported/ },
  { name: 'backquotes', lines: ['REGION_NAME=`date`'], stderr: /localrc:2: command substitution in the value of REGION_NAME is not supported/ },
  { name: 'spaces around =', lines: ['SERVICE_HOST = 10.0.0.5'], stderr: /localrc:2: spaces around '=' in the assignment to SERVICE_HOST/ },
  { name: 'a shell command', lines: ['echo hi'], stderr: /localrc:2: 'echo' is neither an assignment/ },
  { name: 'a number out of range', lines: ['API_WORKERS=0'], stderr: /localrc:2: API_WORKERS=0 is less than the minimum 1/ },
  { name: 'SSH_CONNECT_TIMEOUT=0', lines: ['SSH_CONNECT_TIMEOUT=0'], stderr: /localrc:2: SSH_CONNECT_TIMEOUT=0 is less than the minimum 1/ },
  { name: 'not a whole number', lines: ['SERVICE_TIMEOUT=abc'], stderr: /localrc:2: SERVICE_TIMEOUT=abc is not a whole number/ },
  { name: 'not a yes/no', lines: ['OFFLINE=maybe'], stderr: /localrc:2: OFFLINE=maybe is not a yes\/no value/ },
  { name: 'an unknown enum value', lines: ['VIRT_DRIVER=xen'], stderr: /localrc:2: VIRT_DRIVER=xen is not one of libvirt, fake/ },
  { name: 'a TARGET_HOST port out of range', lines: ['TARGET_HOST=root@h:99999'], stderr: /localrc:2: TARGET_HOST=root@h:99999 has port 99999/ },
  { name: 'an unknown service', lines: ['enable_service nova'], stderr: /localrc:2: unknown service 'nova' in enable_service/ },
  { name: 'Keystone disabled under its users', lines: ['disable_service key'], stderr: /localrc: key \(Keystone\) is disabled, but g-api, .* need it/ },
  { name: 'a Latin-1 byte', lines: ['ADMIN_PASSWORD=caf\u00e9'], stderr: /localrc:2: this line is not valid UTF-8 text/, secret: 'caf' },
  // --- local.conf
  { name: 'local.conf: a bad address in [[local|localrc]]', file: 'local.conf', lines: ['[[local|localrc]]', 'HOST_IP=999.1.1.1'], stderr: /local\.conf:4: HOST_IP=999\.1\.1\.1 is not an IPv4 address/ },
  { name: 'local.conf: a relative post-config target', file: 'local.conf', lines: ['[[post-config|nova.conf]]', '[DEFAULT]', 'debug = True'], stderr: /local\.conf:3: post-config target 'nova\.conf' is neither a \$VARIABLE nor an absolute path/ },
  { name: 'local.conf: an unknown phase', file: 'local.conf', lines: ['[[post-extra|$TEMPEST_CONFIG]]'], stderr: /local\.conf:3: unknown meta-section phase 'post-extra'/ },
  { name: 'local.conf: an option before a section', file: 'local.conf', lines: ['[[post-config|$NOVA_CONF]]', 'debug = True'], stderr: /local\.conf:4: option 'debug' comes before any \[section\]/ },
  { name: "local.conf: a post-config key a[b]", file: 'local.conf', lines: ['[[post-config|$NOVA_CONF]]', '[DEFAULT]', 'a[b] = x'], stderr: /local\.conf:5: option name 'a\[b\]' holds '\[', which an ini file cannot carry in a key/ },
  // --- environment
  { name: 'env: a line break in a password', lines: ['ADMIN_PASSWORD=$PW'], env: { PW: 'line1\nline2' }, stderr: /localrc:2: ADMIN_PASSWORD contains a line break/, secret: 'line1' },
  { name: 'env: a wildcard address', lines: ['RABBIT_HOST=$MQ'], env: { MQ: '0.0.0.0' }, stderr: /localrc:2: RABBIT_HOST=0\.0\.0\.0 is the wildcard address/ },
  { name: 'env: a TARGET_HOST with port 0', lines: ['TARGET_HOST=$T'], env: { T: 'root@h:0' }, stderr: /localrc:2: TARGET_HOST=root@h:0 has port 0/ },
  // --- hosts file
  {
    name: 'hosts file: not valid YAML',
    lines: ['HOSTS_FILE=hosts.yaml'],
    files: { 'hosts.yaml': 'hosts:\n  - name: [c1\n' },
    stderr: /hosts\.yaml:\d+: not valid YAML/,
  },
  { name: 'hosts file: missing', lines: ['HOSTS_FILE=nohosts.yaml'], stderr: /cannot read the hosts file \(HOSTS_FILE=.*nohosts\.yaml\): ENOENT/ },
  {
    name: 'hosts file: an unknown role',
    lines: ['HOSTS_FILE=hosts.yaml'],
    files: hostsFile(host('c1', 'root@127.0.0.1:9', 'controler, database, messaging, compute')),
    stderr: /hosts\.yaml:4: unknown role "controler"[^]*did you mean "controller"/,
  },
  {
    name: 'hosts file: a host without an address',
    lines: ['HOSTS_FILE=hosts.yaml'],
    files: { 'hosts.yaml': 'hosts:\n  - name: c1\n    roles: [controller, database, messaging, compute]\n' },
    stderr: /hosts\.yaml:2: host c1 has no address:/,
  },
  {
    name: 'hosts file: two hosts at one address',
    lines: ['HOSTS_FILE=hosts.yaml'],
    files: hostsFile(host('c1', 'root@127.0.0.1:9', 'controller, database, messaging'), host('n1', 'root@127.0.0.1:9', 'compute')),
    stderr: /hosts\.yaml:\d+: hosts c1 \(.*\) and n1 have the same address/,
  },
  {
    name: 'hosts file: the database on two hosts',
    lines: ['HOSTS_FILE=hosts.yaml'],
    files: hostsFile(host('c1', 'root@127.0.0.1:9', 'controller, database, messaging'), host('n1', 'root@127.0.0.2:9', 'database, compute')),
    stderr: /mysql is on 2 hosts \(c1 at .*hosts\.yaml:2, n1 at .*hosts\.yaml:5\); it runs on exactly one/,
  },
  {
    name: 'hosts file: an ip that is not an address',
    lines: ['HOSTS_FILE=hosts.yaml'],
    files: hostsFile(host('c1', 'root@127.0.0.1:9', 'controller, database, messaging, compute', '    ip: 10.0.0.5; touch /tmp/x\n')),
    stderr: /hosts\.yaml:5: ip "10\.0\.0\.5; touch \/tmp\/x" is not an IP address/,
  },
  {
    name: 'hosts file: nothing runs the database',
    lines: ['HOSTS_FILE=hosts.yaml'],
    files: hostsFile(host('c1', 'root@127.0.0.1:9', 'controller, messaging, compute')),
    stderr: /no host runs mysql/,
  },
  // --- hosts file hints that fit (issue 15)
  { name: 'hosts file: two YAML documents', lines: ['HOSTS_FILE=hosts.yaml'], files: { 'hosts.yaml': `${hostsFile(host('c1', 'root@127.0.0.1:9', 'controller, database, messaging, compute'))['hosts.yaml']}---\nhosts: []\n` }, stderr: /hosts\.yaml:5: the hosts file holds more than one YAML document[^]*remove that "---" line/ },
  { name: 'hosts file: a YAML alias as roles', lines: ['HOSTS_FILE=hosts.yaml'], files: { 'hosts.yaml': 'all: &all [controller, database, messaging, compute]\nhosts:\n  - name: c1\n    address: root@127.0.0.1:9\n    roles: *all\n' }, stderr: /hosts\.yaml:5: roles uses the YAML alias \*all; stack\.ts does not follow aliases/ },
  { name: 'hosts file: 300.1.1.1 as an address', lines: ['HOSTS_FILE=hosts.yaml'], files: hostsFile(host('c1', 'root@300.1.1.1', 'controller, database, messaging, compute')), stderr: /hosts\.yaml:3: address "root@300\.1\.1\.1" is not an IPv4 address/ },
  { name: 'TARGET_HOST=root@300.1.1.1', lines: ['TARGET_HOST=root@300.1.1.1'], stderr: /localrc:2: TARGET_HOST=root@300\.1\.1\.1 is not an IPv4 address/ },
  // --- the host: a HOST_IP that is none of its addresses (this machine, read only: plan)
  { name: 'a HOST_IP that is not an address of the host', command: 'plan', lines: ['TARGET_HOST=local', 'HOST_IP=192.0.2.77'], stderr: /localrc:3: HOST_IP=192\.0\.2\.77 is not an address of the target host \(it has .*127\.0\.0\.1/ },
  // --- the commands that remove things refuse the same values before removing anything
  { name: 'clean with a state dir holding a shell command', command: 'clean', lines: ["STACK_STATE_DIR='/var/lib/stack ts;touch /tmp/x'"], stderr: /localrc:2: STACK_STATE_DIR=.* contains characters/ },
  { name: 'clean with LOGDIR=/var/log/*', command: 'clean', lines: ['LOGDIR=/var/log/*'], stderr: /localrc:2: LOGDIR="\/var\/log\/\*" contains characters/ },
  { name: 'unstack with a top-level state dir', command: 'unstack', lines: ['STACK_STATE_DIR=/usr'], stderr: /localrc:2: STACK_STATE_DIR=\/usr is a top-level directory/ },
  // --- directories of the system that `clean` would remove with everything in them (issue 15)
  { name: 'clean with STACK_STATE_DIR=/var/lib', command: 'clean', lines: ['STACK_STATE_DIR=/var/lib'], stderr: /localrc:2: STACK_STATE_DIR=\/var\/lib is a directory of the system \(\/var\/lib\); `clean` removes this directory/ },
  { name: 'clean with LOGDIR=/var/log', command: 'clean', lines: ['LOGDIR=/var/log'], stderr: /localrc:2: LOGDIR=\/var\/log is a directory of the system/ },
  { name: 'clean with LOGDIR=/usr/bin', command: 'clean', lines: ['LOGDIR=/usr/bin'], stderr: /localrc:2: LOGDIR=\/usr\/bin is a directory of the system \(\/usr\/bin\)/ },
  { name: 'clean with the database as STACK_STATE_DIR', command: 'clean', lines: ['STACK_STATE_DIR=/var/lib/mysql'], stderr: /localrc:2: STACK_STATE_DIR=\/var\/lib\/mysql is the directory the mysql packages made/ },
  // --- settings that would take over what stack.ts made, or the config itself (issue 15)
  { name: 'DEMO_PROJECT=nova', lines: ['DEMO_PROJECT=nova'], stderr: /localrc:2: DEMO_PROJECT=nova is the name of a Keystone user or project stack\.ts makes/ },
  { name: 'DEMO_PROJECT=service', command: 'plan', lines: ['DEMO_PROJECT=service'], stderr: /localrc:2: DEMO_PROJECT=service is the name of a Keystone user or project/ },
  { name: 'SECRETS_FILE naming the config itself', lines: ['SECRETS_FILE=localrc'], stderr: /localrc:2: SECRETS_FILE names the config file itself/ },
  { name: 'SECRETS_FILE naming the config through a link', lines: ['SECRETS_FILE=secrets'], links: { secrets: 'localrc' }, stderr: /localrc:2: SECRETS_FILE names the config file itself/ },
  // --- files that are no files, and hosts that never answer: refused within seconds (issue 15)
  { name: 'a fifo as --config', timed: true, args: ['plan', '--config', 'localrc.fifo'], fifos: ['localrc.fifo'], stderr: /localrc\.fifo: the config file is a named pipe \(fifo\), not a file stack\.ts can read/ },
  { name: 'a fifo as --config of a command that locks', timed: true, args: ['stack', '--config', 'localrc.fifo'], fifos: ['localrc.fifo'], stderr: /localrc\.fifo: the config file is a named pipe \(fifo\)/ },
  { name: 'a directory as --config', args: ['plan', '--config', '/tmp'], stderr: /\/tmp: the config file is a directory, not a file/ },
  { name: 'verify --config /proc/version', timed: true, args: ['verify', '--config', '/proc/version'], stderr: /cannot make \/proc\/\.stack for the run lock: ENOENT[^]*put the config in a directory of yours/ },
  { name: 'a missing config makes no lock directory', args: ['stack', '--config', 'nodir/localrc'], stderr: /config file not found/ },
  { name: 'a fifo as HOSTS_FILE', timed: true, lines: ['HOSTS_FILE=hosts.fifo'], fifos: ['hosts.fifo'], stderr: /hosts\.fifo: the hosts file \(HOSTS_FILE=.*hosts\.fifo\) is a named pipe \(fifo\), not a YAML file/ },
  { name: 'a directory as HOSTS_FILE', lines: ['HOSTS_FILE=hosts.d'], links: { 'hosts.d': '/tmp' }, stderr: /hosts\.d: the hosts file \(HOSTS_FILE=.*hosts\.d\) is a directory, not a YAML file[^]*name the YAML file itself/ },
  { name: 'a hosts file of megabytes', timed: true, lines: ['HOSTS_FILE=hosts.yaml'], files: { 'hosts.yaml': `hosts:\n${'  - { name: c, address: root@127.0.0.1:9, roles: [compute] }\n'.repeat(20_000)}` }, stderr: /hosts\.yaml: the hosts file \(HOSTS_FILE=.*\) is 1\.\d MB, over the 256 kB stack\.ts reads/ },
  { name: 'a fifo as SECRETS_FILE', timed: true, command: 'plan', lines: ['TARGET_HOST=local', 'SECRETS_FILE=secrets.fifo'], fifos: ['secrets.fifo'], stderr: /secrets\.fifo: the secrets file is a named pipe \(fifo\), not a file/ },
  { name: 'a directory as .stack-secrets', command: 'plan', lines: ['TARGET_HOST=local'], mkdirs: ['.stack-secrets'], stderr: /\.stack-secrets: the secrets file is a directory, not a file/ },
  { name: 'plan against a host that takes the login and never answers', timed: true, command: 'plan', silentHost: true, lines: ['SSH_CONNECT_TIMEOUT=2'], stderr: /host .*127\.0\.0\.1.*: cannot reach root@127\.0\.0\.1:\d+: .*(timed out|did not answer|no answer)/ },
  // --- plan refuses what stack would refuse (its preflight only reads), on this machine (issue 15)
  { name: 'plan: an IMAGE_URLS file that does not exist', command: 'plan', lines: ['TARGET_HOST=local', 'IMAGE_URLS=/nonexistent/cirros.img'], stderr: /The image file \/nonexistent\/cirros\.img \(IMAGE_URLS\) does not exist/ },
  { name: "plan: a RabbitMQ password with '/'", command: 'plan', lines: ['TARGET_HOST=local', LOCAL_IMAGE, 'RABBIT_PASSWORD=ab/cd1234'], stderr: /RABBIT_PASSWORD cannot be used: it contains '\/'/, secret: 'ab/cd1234' },
  { name: 'plan: a database password outside ASCII', command: 'plan', lines: ['TARGET_HOST=local', LOCAL_IMAGE, 'DATABASE_PASSWORD=p\u00e4sswort1'], stderr: /DATABASE_PASSWORD cannot be used: the password has characters outside printable ASCII/, secret: 'sswort1' },
  { name: 'plan: RABBIT_USERID=guest', command: 'plan', lines: ['TARGET_HOST=local', LOCAL_IMAGE, 'RABBIT_USERID=guest'], stderr: /RABBIT_USERID is guest, the user stack\.ts deletes/ },
  { name: 'plan: a post-config target no service writes', command: 'plan', file: 'local.conf', lines: ['TARGET_HOST=local', LOCAL_IMAGE, '[[post-config|/etc/foo/foo.conf]]', '[DEFAULT]', 'debug = True'], stderr: /local\.conf:7: \[\[post-config\|\/etc\/foo\/foo\.conf\]\] names no file stack\.ts writes/ },
  { name: 'an invalid VERIFY_CONSOLE_PATTERN', command: 'plan', lines: ["VERIFY_CONSOLE_PATTERN='login:('"], stderr: /localrc:2: VERIFY_CONSOLE_PATTERN=login:\( is not a valid regular expression/ },
  { name: 'plan with SSH_ACCEPT_NEW_HOST_KEYS=True writes no known_hosts', command: 'plan', timed: true, silentHost: true, lines: ['SSH_CONNECT_TIMEOUT=2', 'SSH_KNOWN_HOSTS=empty_known_hosts', 'SSH_ACCEPT_NEW_HOST_KEYS=True'], files: { empty_known_hosts: '' }, stderr: /cannot reach root@127\.0\.0\.1:\d+/ },
  // --- passwords that cannot be hidden safely, or that would leak through a message (issue 15)
  { name: 'a one-letter password', lines: ['ADMIN_PASSWORD=e'], stderr: /localrc:2: ADMIN_PASSWORD is shorter than 8 characters\n\s+a password needs at least 8 characters and no blank at either end/ },
  { name: 'a password of blanks', lines: ["ADMIN_PASSWORD='   '"], stderr: /localrc:2: ADMIN_PASSWORD is only blanks/ },
  { name: 'a common word as a password', lines: ['SERVICE_PASSWORD=nova'], stderr: /localrc:2: SERVICE_PASSWORD is shorter than 8 characters/ },
  { name: 'a password with a quote and a blank as an address', lines: [`ADMIN_PASSWORD='pa"ss word1'`, 'DATABASE_HOST=$ADMIN_PASSWORD'], stderr: /localrc:3: DATABASE_HOST="\*\*\*" contains a blank/, secret: 'ss word1' },
  { name: '.stack-secrets: a password with a quote and a blank as an address', command: 'plan', lines: ['TARGET_HOST=local', 'DATABASE_HOST=$ADMIN_PASSWORD'], files: { '.stack-secrets': `ADMIN_PASSWORD='pa"ss word1'\n` }, stderr: /localrc:3: DATABASE_HOST="\*\*\*" contains a blank/, secret: 'ss word1' },
  { name: '.stack-secrets: a password with a leading blank', command: 'plan', lines: ['TARGET_HOST=local'], files: { '.stack-secrets': "ADMIN_PASSWORD=' leading-blank'\n" }, stderr: /\.stack-secrets: ADMIN_PASSWORD starts or ends with a blank/, secret: 'leading-blank' },
  { name: '.stack-secrets: a password with a TAB', command: 'plan', lines: ['TARGET_HOST=local'], files: { '.stack-secrets': "ADMIN_PASSWORD='tab\there-pw'\n" }, stderr: /\.stack-secrets: ADMIN_PASSWORD contains a control character/, secret: 'here-pw' },
  { name: '.stack-secrets: a short password', command: 'plan', lines: ['TARGET_HOST=local'], files: { '.stack-secrets': "ADMIN_PASSWORD='x'\n" }, stderr: /\.stack-secrets: ADMIN_PASSWORD is shorter than 8 characters/ },
  // --- terminal escapes in a value are shown escaped, never sent to the terminal
  { name: 'an ESC sequence in a value', lines: ['HOST_IP=$X'], env: { X: '\x1b]0;owned\x07\x1b[31m10.0.0.5' }, stderr: /localrc:2: HOST_IP=\\x1b\]0;owned\\x07\\x1b\[31m10\.0\.0\.5 is/, secret: '\x1b' },
  // --- the secrets file
  // Read after the host is probed: a local plan (read only) reaches it without a network.
  { name: 'secrets file: a symbolic link', command: 'plan', lines: ['TARGET_HOST=local'], links: { '.stack-secrets': '/etc/hostname' }, stderr: /\.stack-secrets: the secrets file is a symbolic link/ },
];

const timeOf = async (f: () => Promise<unknown>): Promise<number> => {
  const t = Date.now();
  await f();
  return Date.now() - t;
};

const dirs: string[] = [];
let silent: Promise<SilentSshd> | undefined;
/** Started by the first case that needs it. */
const silentSshd = (): Promise<SilentSshd> => (silent ??= startSilentSshd());
afterAll(async () => {
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  await (await silent)?.stop();
});

describe('bad input exits 2 with a message, before anything changes', () => {
  it('has at least 40 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(40));

  it.concurrent.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dir = mkdtempSync(join(tmpdir(), 'stackts-bad-'));
    dirs.push(dir);
    const file = join(dir, c.file ?? 'localrc');
    const silent = c.silentHost
      ? [`TARGET_HOST=root@127.0.0.1:${(await silentSshd()).port}`, `SSH_KEY=${writeClientKey(join(dir, 'id_test'))}`, `SSH_KNOWN_HOSTS=${writeKnownHosts(dir, await silentSshd())}`]
      : [];
    if (c.lines) {
      const lines = [...silent, ...c.lines];
      const body = c.file === 'local.conf' ? ['[[local|localrc]]', NOWHERE, ...lines] : [NOWHERE, ...lines];
      // A case's own TARGET_HOST comes later and wins; the Latin-1 case needs its bytes as they are.
      writeFileSync(file, Buffer.from(body.join('\n') + '\n', /caf\u00e9/.test(body.join('')) ? 'latin1' : 'utf8'));
    }
    for (const [name, text] of Object.entries(c.files ?? {})) writeFileSync(join(dir, name), text);
    for (const [name, target] of Object.entries(c.links ?? {})) symlinkSync(target, join(dir, name));
    for (const name of c.fifos ?? []) execFileSync('mkfifo', [join(dir, name)]);
    for (const name of c.mkdirs ?? []) mkdirSync(join(dir, name));
    const args = c.args ?? [c.command ?? 'stack', '--config', file];
    const before = snapshot([dir, ...WATCHED]);
    const startMs = c.timed ? await timeOf(() => execa(join(REPO, 'stack.ts'), ['--version'], { cwd: dir })) : 0;
    const started = Date.now();
    const r = await execa(join(REPO, 'stack.ts'), [...args], { cwd: dir, reject: false, all: true, env: { CI: 'true', ...c.env }, timeout: 60_000 });
    const tookMs = Date.now() - started;
    expect(r.stderr, r.all).toMatch(c.stderr);
    expect(r.exitCode, r.all).toBe(2);
    expect(snapshot([dir, ...WATCHED])).toEqual(before);
    if (c.secret) expect(r.all).not.toContain(c.secret);
    // Answered within seconds: a refusal that hangs (a fifo, a silent host) is no answer. Measured
    // beyond a bare start of ./stack.ts just before, which alone takes 3-10 s on a busy machine.
    if (c.timed) expect(tookMs - startMs, r.all).toBeLessThan(10_000);
    // Generous: each case is a whole ./stack.ts start (tsx), and 59 of them share the machine.
  }, 300_000);
});
