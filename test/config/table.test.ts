// Table-driven: each row is a config file, read through loadConfig, with the exact settings,
// services, warnings or error message it must produce.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Config } from '../../lib/config/index.ts';
import type { SettingName } from '../../lib/config/schema.ts';

const KNOWN = 'known services: mysql, rabbit, memcache, key, g-api, g-reg, placement-api, ovn-northd, q-svc, n-api, n-cond, n-sch, n-cpu, ovn-controller, q-ovn-metadata-agent';
const DEFAULT_SERVICES = ['mysql', 'rabbit', 'memcache', 'key', 'g-api', 'placement-api', 'ovn-northd', 'q-svc', 'n-api', 'n-cond', 'n-sch', 'n-cpu', 'ovn-controller', 'q-ovn-metadata-agent'];
const SPACES_HINT = (n: string) => `    the shell reads "${n} = ..." as a command; write ${n}=value with no spaces`;
const SINGLE_QUOTE_HINT = "    if the $ is part of the value (a password, say), put the value in single quotes: NAME='...'";

interface Case {
  readonly name: string;
  readonly lines: readonly string[];
  readonly file?: 'localrc' | 'local.conf';
  /** The file's exact bytes, instead of lines. */
  readonly bytes?: Buffer;
  readonly env?: Record<string, string>;
  readonly settings?: Partial<Record<SettingName, unknown>>;
  readonly services?: readonly string[];
  /** "origin: message", exactly and completely (default: none). */
  readonly warnings?: readonly string[];
  readonly postConfig?: readonly { target: string; section: string; key: string; value: string; origin: string }[];
  /** The whole ConfigError message. */
  readonly error?: string;
}

const CASES: Case[] = [
  {
    name: 'an empty file gives the defaults, with detected values filling HOST_IP and CIRROS_ARCH',
    lines: [],
    settings: {
      TARGET_HOST: 'local',
      HOST_IP: '192.0.2.10',
      SERVICE_HOST: '192.0.2.10',
      DATABASE_HOST: '127.0.0.1',
      API_WORKERS: 1,
      OFFLINE: false,
      VIRT_DRIVER: 'libvirt',
      IMAGE_URLS: ['https://github.com/cirros-dev/cirros/releases/download/0.6.2/cirros-0.6.2-x86_64-disk.img'],
    },
    services: DEFAULT_SERVICES,
  },
  {
    name: 'comments: whole line, trailing after a blank, and # inside a word is kept',
    lines: ['# a comment', '', '   # indented comment', 'REGION_NAME=Lab   # trailing', 'DEMO_PROJECT=a#b'],
    settings: { REGION_NAME: 'Lab', DEMO_PROJECT: 'a#b' },
  },
  {
    name: 'double quotes expand, single quotes do not',
    lines: ['REGION_NAME=R1', 'DEMO_PROJECT="p-${REGION_NAME} $REGION_NAME"', "RABBIT_USERID='$REGION_NAME'"],
    settings: { DEMO_PROJECT: 'p-R1 R1', RABBIT_USERID: '$REGION_NAME' },
  },
  {
    name: 'backslash escapes: unquoted and in double quotes',
    lines: ['DEMO_PROJECT=a\\ b', 'RABBIT_USERID="x\\$y\\"z\\w"'],
    settings: { DEMO_PROJECT: 'a b', RABBIT_USERID: 'x$y"z\\w' },
  },
  {
    name: '$VAR from the environment when not assigned earlier',
    lines: ['DEMO_PROJECT=$LAB-${LAB}'],
    env: { LAB: 'x' },
    settings: { DEMO_PROJECT: 'x-x' },
  },
  {
    name: '${VAR:-default} for an unset and for an empty variable; ${VAR-default} keeps an empty one',
    lines: ['EMPTY=', 'DEMO_PROJECT=${NOPE:-d1}', 'REGION_NAME=${EMPTY:-d2}', 'RABBIT_USERID=x${EMPTY-d3}y'],
    settings: { DEMO_PROJECT: 'd1', REGION_NAME: 'd2', RABBIT_USERID: 'xy' },
  },
  {
    name: 'the devstack idiom NAME=${NAME:-default} takes the environment, else the default',
    lines: ['REGION_NAME=${REGION_NAME:-R2}', 'DEMO_PROJECT=${DEMO_PROJECT:-fallback}'],
    env: { REGION_NAME: 'R3' },
    settings: { REGION_NAME: 'R3', DEMO_PROJECT: 'fallback' },
  },
  {
    name: 'export is tolerated, with or without a value',
    lines: ['export REGION_NAME=R4', 'export REGION_NAME'],
    settings: { REGION_NAME: 'R4' },
  },
  {
    name: 'a reference to a setting not set earlier means its final value (user > detected > default)',
    lines: ['RABBIT_HOST=$SERVICE_HOST', 'DATABASE_HOST=${HOST_IP}'],
    settings: { RABBIT_HOST: '192.0.2.10', DATABASE_HOST: '192.0.2.10', SERVICE_HOST: '192.0.2.10' },
  },
  {
    name: 'a user value wins over the detected one, and defaults follow it',
    lines: ['HOST_IP=10.0.0.1'],
    settings: { HOST_IP: '10.0.0.1', SERVICE_HOST: '10.0.0.1' },
  },
  {
    name: 'an empty value means "not set": detection and defaults apply',
    lines: ['HOST_IP=', 'SERVICE_HOST=""'],
    settings: { HOST_IP: '192.0.2.10', SERVICE_HOST: '192.0.2.10' },
  },
  {
    name: 'a helper variable used in an expansion is not warned about',
    lines: ['MY_IP=10.1.1.1', 'HOST_IP=$MY_IP'],
    settings: { HOST_IP: '10.1.1.1', SERVICE_HOST: '10.1.1.1' },
  },
  {
    name: 'unknown variable: a warning with the closest known name',
    lines: ['SERVIC_HOST=10.0.0.2'],
    settings: { SERVICE_HOST: '192.0.2.10' },
    warnings: ['localrc:1: SERVIC_HOST is not a setting stack.ts knows; it is ignored; did you mean SERVICE_HOST?'],
  },
  {
    name: 'unknown variable in lower case: the suggestion ignores case',
    lines: ['', 'service_host=10.0.0.2'],
    warnings: ['localrc:2: service_host is not a setting stack.ts knows; it is ignored; did you mean SERVICE_HOST?'],
  },
  {
    name: 'unknown variable far from every setting: no suggestion',
    lines: ['RECLONE=yes'],
    warnings: ['localrc:1: RECLONE is not a setting stack.ts knows; it is ignored'],
  },
  {
    name: 'expanding a variable that is set nowhere warns (a typo, usually)',
    lines: ['REGION_NAME=R5', 'DEMO_PROJECT=x$REGION_NAM'],
    settings: { DEMO_PROJECT: 'x' },
    warnings: [
      'localrc:2: $REGION_NAM is not set (not earlier in the file, not in the environment, not a setting); it expands to nothing; did you mean REGION_NAME?',
    ],
  },
  {
    name: 'disable_all_services then enable_service',
    lines: ['disable_all_services', 'enable_service mysql key', 'enable_service key'],
    services: ['mysql', 'key'],
    settings: { ENABLED_SERVICES: ['mysql', 'key'] },
  },
  {
    name: 'disable_service removes; an unknown name there is only a warning',
    lines: ['disable_service n-cpu n-net'],
    services: DEFAULT_SERVICES.filter((s) => s !== 'n-cpu'),
    warnings: ["localrc:1: disable_service: 'n-net' is not a service stack.ts knows, so there is nothing to disable"],
  },
  {
    name: 'ENABLED_SERVICES= replaces, += appends, $ENABLED_SERVICES is the list so far',
    lines: ['ENABLED_SERVICES=mysql,key', 'ENABLED_SERVICES+=,g-api', 'ENABLED_SERVICES="$ENABLED_SERVICES rabbit"'],
    services: ['mysql', 'rabbit', 'key', 'g-api'],
    settings: { ENABLED_SERVICES: ['mysql', 'key', 'g-api', 'rabbit'] },
  },
  {
    name: 'unknown service in enable_service: error with the closest name and the known list',
    lines: ['enable_service g-apii'],
    error: `localrc:1: unknown service 'g-apii' in enable_service; did you mean g-api?\n    ${KNOWN}`,
  },
  {
    name: 'unknown service in ENABLED_SERVICES, nothing close',
    lines: ['ENABLED_SERVICES=mysql,horizon'],
    error: `localrc:1: unknown service 'horizon' in ENABLED_SERVICES\n    ${KNOWN}`,
  },
  {
    name: 'bad int',
    lines: ['API_WORKERS=two'],
    error: 'localrc:1: API_WORKERS=two is not a whole number\n    use a whole number from 1 to 64',
  },
  {
    name: 'int above the maximum',
    lines: ['API_WORKERS=65'],
    error: 'localrc:1: API_WORKERS=65 is more than the maximum 64\n    use a whole number from 1 to 64',
  },
  {
    name: 'int below the minimum',
    lines: ['SERVICE_TIMEOUT=4'],
    error: 'localrc:1: SERVICE_TIMEOUT=4 is less than the minimum 5\n    use a whole number from 5 to 3600',
  },
  {
    name: 'booleans in every accepted spelling',
    lines: ['OFFLINE=True', 'APT_UNSAFE_IO=yes', 'INSTALL_RECOMMENDS=0', 'API_WORKERS=4'],
    settings: { OFFLINE: true, APT_UNSAFE_IO: true, INSTALL_RECOMMENDS: false, API_WORKERS: 4 },
  },
  {
    name: 'bad bool',
    lines: ['OFFLINE=maybe'],
    error: 'localrc:1: OFFLINE=maybe is not a yes/no value\n    use True or False (also accepted: true, false, yes, no, 1, 0)',
  },
  {
    name: 'bad enum, with a suggestion',
    lines: ['VIRT_DRIVER=fak'],
    error: 'localrc:1: VIRT_DRIVER=fak is not one of libvirt, fake; did you mean fake?\n    use one of: libvirt, fake',
  },
  {
    name: 'unterminated single quote (the value is not shown)',
    lines: ["ADMIN_PASSWORD='secret"],
    error: 'localrc:1: unterminated single quote in the value of ADMIN_PASSWORD\n    close the quote on the same line; a value cannot span lines',
  },
  {
    name: 'unterminated double quote',
    lines: ['DEMO_PROJECT="demo'],
    error: 'localrc:1: unterminated double quote in the value of DEMO_PROJECT\n    close the quote on the same line; a value cannot span lines',
  },
  {
    name: 'spaces around =',
    lines: ['SERVICE_HOST = 10.0.0.1'],
    error: `localrc:1: spaces around '=' in the assignment to SERVICE_HOST\n${SPACES_HINT('SERVICE_HOST')}`,
  },
  {
    name: 'a space after =',
    lines: ['SERVICE_HOST= 10.0.0.1'],
    error: `localrc:1: space after '=' in the assignment to SERVICE_HOST\n    write SERVICE_HOST=value with no space; quote a value that contains spaces: SERVICE_HOST="a b"`,
  },
  {
    name: 'an unquoted space inside a value',
    lines: ['DEMO_PROJECT=my demo'],
    error: `localrc:1: unquoted space in the value of DEMO_PROJECT\n    quote the whole value: DEMO_PROJECT="..." (or DEMO_PROJECT='...' to keep $ and \\ as they are)`,
  },
  {
    name: 'a line that is neither an assignment nor a known function',
    lines: ['source ~/openrc'],
    error:
      "localrc:1: 'source' is neither an assignment (NAME=value) nor one of enable_service, disable_service, disable_all_services\n" +
      '    this file is read, not run as a shell script; turn the line into NAME=value or remove it',
  },
  {
    name: 'an ini section in a plain localrc points at local.conf',
    lines: ['[DEFAULT]'],
    error:
      "localrc:1: this line is neither an assignment (NAME=value) nor one of enable_service, disable_service, disable_all_services\n" +
      '    ini [sections] belong in a local.conf, under [[post-config|$FILE]]',
  },
  {
    name: 'a $ special parameter in an unquoted password',
    lines: ['ADMIN_PASSWORD=pa$@ss'],
    error: `localrc:1: the value of ADMIN_PASSWORD holds a shell special parameter ($ followed by a digit or one of @*#?$!-)\n${SINGLE_QUOTE_HINT}`,
  },
  {
    name: 'command substitution',
    lines: ['HOST_IP=$(hostname -i)'],
    error:
      'localrc:1: command substitution in the value of HOST_IP is not supported\n' +
      "    write the value itself; if the $ or ` is part of the value, put it in single quotes: NAME='...'",
  },
  {
    name: 'an unquoted shell operator',
    lines: ['ADMIN_PASSWORD=a;b'],
    error:
      "localrc:1: unquoted ';' in the value of ADMIN_PASSWORD\n" +
      "    put the value in single quotes, e.g. NAME='a;b' (inside '...' every character is kept as it is)",
  },
  {
    name: 'line continuation',
    lines: ['DEMO_PROJECT=a\\'],
    error: 'localrc:1: line continuation (\\ at the end of a line) is not supported\n    put the whole value on one line',
  },
  {
    name: 'every error of the file at once, in line order',
    lines: ['API_WORKERS=x', 'OK=1', 'A = 1', 'enable_service nope', "B='x"],
    error: [
      'localrc:1: API_WORKERS=x is not a whole number\n    use a whole number from 1 to 64',
      `localrc:3: spaces around '=' in the assignment to A\n${SPACES_HINT('A')}`,
      `localrc:4: unknown service 'nope' in enable_service\n    ${KNOWN}`,
      'localrc:5: unterminated single quote in the value of B\n    close the quote on the same line; a value cannot span lines',
    ].join('\n'),
  },
  {
    name: "a password with $ @ : / % # ' \" and spaces in single quotes round-trips exactly",
    lines: [`ADMIN_PASSWORD='p$ @:/%#"x y'\\''z'`, `DATABASE_PASSWORD="d\\$ '@#pw12"`],
    settings: { ADMIN_PASSWORD: `p$ @:/%#"x y'z`, DATABASE_PASSWORD: `d$ '@#pw12` },
  },
  {
    name: 'per-service passwords inherit SERVICE_PASSWORD unless set',
    lines: ['SERVICE_PASSWORD=svc-pw-12', 'NOVA_PASSWORD=nova-own'],
    settings: { SERVICE_PASSWORD: 'svc-pw-12', GLANCE_PASSWORD: 'svc-pw-12', PLACEMENT_PASSWORD: 'svc-pw-12', NOVA_PASSWORD: 'nova-own' },
  },
  {
    name: 'a reference cycle is an error at the user line',
    lines: ['REGION_NAME=R', 'HOST_IP=$SERVICE_HOST'],
    error: 'localrc:2: HOST_IP refers to itself: HOST_IP -> SERVICE_HOST -> HOST_IP\n    give one of these settings a plain value instead of a ${...} reference',
  },
  {
    name: 'an expanded value is checked too, at the line that wrote the reference',
    lines: ['API_WORKERS=$HOST_IP'],
    error: 'localrc:1: API_WORKERS=192.0.2.10 is not a whole number\n    use a whole number from 1 to 64',
  },
  {
    name: 'TARGET_HOST as user@host:port, and ~ in a path',
    lines: ['TARGET_HOST=root@10.0.0.5:2222', 'SSH_KEY=~/.ssh/stack_key'],
    env: { HOME: '/home/u' },
    settings: { TARGET_HOST: 'root@10.0.0.5:2222', SSH_KEY: '/home/u/.ssh/stack_key' },
  },
  {
    name: 'TARGET_HOST malformed',
    lines: ['TARGET_HOST=root@@h'],
    error:
      'localrc:1: TARGET_HOST=root@@h is neither "local" nor [user@]host[:port]\n' +
      '    e.g. TARGET_HOST=local or TARGET_HOST=root@192.0.2.10:22 (IPv6 in brackets: [2001:db8::5])',
  },
  {
    name: 'TARGET_HOST port out of range',
    lines: ['TARGET_HOST=h1:70000'],
    error: 'localrc:1: TARGET_HOST=h1:70000 has port 70000, not between 1 and 65535\n    leave the port out to use 22',
  },
  {
    name: 'a directory on the target host must be absolute',
    lines: ['LOGDIR=logs'],
    error: 'localrc:1: LOGDIR=logs is not an absolute path\n    it is a directory on the target host; write it from /, e.g. LOGDIR=/var/log/stack-ts',
  },
  {
    name: 'list settings split on commas and blanks',
    lines: ['IMAGE_URLS="file:///a.img, /b.img  http://x/c.img"'],
    settings: { IMAGE_URLS: ['file:///a.img', '/b.img', 'http://x/c.img'] },
  },
  {
    name: 'CRLF line endings are read like LF',
    lines: ['REGION_NAME=R6\r', 'disable_service n-cpu\r'],
    settings: { REGION_NAME: 'R6' },
    services: DEFAULT_SERVICES.filter((s) => s !== 'n-cpu'),
  },
  {
    name: 'local.conf: [[local|localrc]] and [[post-config|...]] sections',
    file: 'local.conf',
    lines: [
      '# comment before any section',
      '[[local|localrc]]',
      'VIRT_DRIVER=fake',
      'disable_service n-cpu',
      '[[post-config|$GLANCE_API_CONF]]',
      '[DEFAULT]',
      'debug = True',
      '; ini comment',
      '[glance_store]',
      'filesystem_store_datadir=/srv/glance',
      '[[post-config|${NOVA_CONF}]]',
      '[DEFAULT]',
      "my_ip = $HOST_IP 'kept as written'",
      '[[post-config|/etc/placement/placement.conf]]',
      '[api]',
      'auth_strategy = keystone',
      '[[local|localrc]]',
      'REGION_NAME=R7',
    ],
    settings: { VIRT_DRIVER: 'fake', REGION_NAME: 'R7' },
    services: DEFAULT_SERVICES.filter((s) => s !== 'n-cpu'),
    postConfig: [
      { target: 'GLANCE_API_CONF', section: 'DEFAULT', key: 'debug', value: 'True', origin: 'local.conf:7' },
      { target: 'GLANCE_API_CONF', section: 'glance_store', key: 'filesystem_store_datadir', value: '/srv/glance', origin: 'local.conf:10' },
      { target: 'NOVA_CONF', section: 'DEFAULT', key: 'my_ip', value: "$HOST_IP 'kept as written'", origin: 'local.conf:13' },
      { target: '/etc/placement/placement.conf', section: 'api', key: 'auth_strategy', value: 'keystone', origin: 'local.conf:16' },
    ],
  },
  {
    name: 'local.conf: unknown meta phase, stray line, option before a section, relative target',
    file: 'local.conf',
    lines: [
      'REGION_NAME=R',
      '[[post-extra|$TEMPEST_CONFIG]]',
      '[compute]',
      '[[post-config|$NOVA_CONF]]',
      'debug = True',
      '[[post-config|nova.conf]]',
      '[[local|localrc]]',
      'API_WORKERS=0',
    ],
    error: [
      'local.conf:1: line outside any [[...]] meta-section\n    put settings under [[local|localrc]] and file options under [[post-config|$FILE]]',
      "local.conf:2: unknown meta-section phase 'post-extra'\n    stack.ts knows [[local|localrc]] and [[post-config|$FILE]]",
      "local.conf:5: option 'debug' comes before any [section] in [[post-config|$NOVA_CONF]]\n    add a section line above it, e.g. [DEFAULT]",
      "local.conf:6: post-config target 'nova.conf' is neither a $VARIABLE nor an absolute path\n" +
        '    e.g. [[post-config|$GLANCE_API_CONF]] or [[post-config|/etc/glance/glance-api.conf]]',
      'local.conf:8: API_WORKERS=0 is less than the minimum 1\n    use a whole number from 1 to 64',
    ].join('\n'),
  },
  // --- values checked for the place they go (issue 8)
  { name: 'an IPv4 address out of range', lines: ['HOST_IP=999.1.1.1'], error: 'localrc:1: HOST_IP=999.1.1.1 is not an IPv4 address (four numbers from 0 to 255)\n    e.g. HOST_IP=192.0.2.10 or HOST_IP=controller.example.org' },
  { name: 'an address with a blank', lines: ['SERVICE_HOST="my host"'], error: 'localrc:1: SERVICE_HOST="my host" contains a blank; an address is one word\n    e.g. SERVICE_HOST=192.0.2.10 or SERVICE_HOST=controller.example.org' },
  {
    name: 'a URL where an address goes',
    lines: ['SERVICE_HOST=http://10.0.0.5:5000'],
    error: "localrc:1: SERVICE_HOST=http://10.0.0.5:5000 is a URL; stack.ts wants only the address\n    write the host part alone, e.g. SERVICE_HOST=192.0.2.10 or SERVICE_HOST=controller.example.org; ports and paths are stack.ts's to choose",
  },
  { name: 'an address with a port', lines: ['SERVICE_HOST=10.0.0.5:5000'], error: 'localrc:1: SERVICE_HOST=10.0.0.5:5000 has a port; stack.ts wants only the address\n    leave the port out: SERVICE_HOST=10.0.0.5' },
  { name: 'an address smuggling a second option', lines: ["RABBIT_HOST='127.0.0.1 -l 0.0.0.0'"], error: 'localrc:1: RABBIT_HOST="127.0.0.1 -l 0.0.0.0" contains a blank; an address is one word\n    e.g. RABBIT_HOST=192.0.2.10 or RABBIT_HOST=controller.example.org' },
  {
    name: 'MariaDB on the wildcard address',
    lines: ['DATABASE_HOST=0.0.0.0'],
    error: 'localrc:1: DATABASE_HOST=0.0.0.0 is the wildcard address: MariaDB would be open on every interface of the host\n    use one address of the host (127.0.0.1 for an all-in-one cloud, else its address on the management network)',
  },
  {
    name: 'memcached and RabbitMQ on the IPv6 wildcard',
    lines: ['RABBIT_HOST=::'],
    error: 'localrc:1: RABBIT_HOST=:: is the wildcard address: RabbitMQ and memcached would be open on every interface of the host\n    use one address of the host (127.0.0.1 for an all-in-one cloud, else its address on the management network)',
  },
  { name: 'a host name and an IPv6 loopback are addresses', lines: ['SERVICE_HOST=host.example.org', 'DATABASE_HOST=::1'], settings: { SERVICE_HOST: 'host.example.org', DATABASE_HOST: '::1' } },
  {
    name: 'a state directory with a shell command in it',
    lines: ["STACK_STATE_DIR='/var/lib/stack ts;touch /tmp/x'"],
    error: 'localrc:1: STACK_STATE_DIR="/var/lib/stack ts;touch /tmp/x" contains characters a path of stack.ts\'s may not hold (globs, blanks, quotes or shell characters)\n    use letters, digits and . _ + - / only, e.g. STACK_STATE_DIR=/var/lib/stack-ts',
  },
  {
    name: 'a log directory that is a glob',
    lines: ['LOGDIR=/var/log/*'],
    error: 'localrc:1: LOGDIR="/var/log/*" contains characters a path of stack.ts\'s may not hold (globs, blanks, quotes or shell characters)\n    use letters, digits and . _ + - / only, e.g. LOGDIR=/var/log/stack-ts',
  },
  { name: 'the root directory as LOGDIR', lines: ['LOGDIR=/'], error: 'localrc:1: LOGDIR=/ is the root directory; `clean` removes this directory with everything in it\n    give stack.ts a directory of its own, e.g. LOGDIR=/var/log/stack-ts' },
  { name: 'a top-level directory as STACK_STATE_DIR', lines: ['STACK_STATE_DIR=/var'], error: 'localrc:1: STACK_STATE_DIR=/var is a top-level directory; `clean` removes this directory with everything in it\n    give stack.ts a directory of its own, e.g. STACK_STATE_DIR=/var/lib/stack-ts' },
  { name: 'a path with ..', lines: ['LOGDIR=/var/log/../x'], error: 'localrc:1: LOGDIR=/var/log/../x contains . or .. components\n    write the plain path, e.g. LOGDIR=/var/log/stack-ts' },
  {
    name: 'an unset $NAME inside a password is an error that does not show the password',
    lines: ['ADMIN_PASSWORD=Pa$sword123'],
    error: "localrc:1: the value of ADMIN_PASSWORD expands a variable that is not set, so part of the password would be dropped\n    if the $ is part of the password, put the whole value in single quotes: ADMIN_PASSWORD='...'",
  },
  {
    name: "ANSI-C quoting $'...'",
    lines: ["ADMIN_PASSWORD=$'line1\\nline2'"],
    error: "localrc:1: ANSI-C quoting $'...' in the value of ADMIN_PASSWORD is not supported\n    write the characters themselves inside '...' (a value is one line: it cannot hold a line break)",
  },
  {
    name: 'a Latin-1 byte: the line, never the text',
    lines: [],
    bytes: Buffer.from('REGION_NAME=R\nADMIN_PASSWORD=caf\xe9\n', 'latin1'),
    error: 'localrc:2: this line is not valid UTF-8 text (was the file saved as Latin-1 or another legacy encoding?)\n    save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 localrc > localrc.utf8 && mv localrc.utf8 localrc',
  },
  {
    name: 'a line break in a password from the environment',
    lines: ['ADMIN_PASSWORD=$PW'],
    env: { PW: 'line1\nline2' },
    error: 'localrc:1: ADMIN_PASSWORD contains a line break\n    a password is one line; the files it is written to cannot carry a line break',
  },
  {
    name: 'a TARGET_HOST built from a password does not show the password',
    lines: ["ADMIN_PASSWORD='s3cret-pw'", 'TARGET_HOST=${ADMIN_PASSWORD}x!'],
    error: 'localrc:2: TARGET_HOST=***x! is neither "local" nor [user@]host[:port]\n    e.g. TARGET_HOST=local or TARGET_HOST=root@192.0.2.10:22 (IPv6 in brackets: [2001:db8::5])',
  },
  { name: 'a setting set twice is warned about', lines: ['REGION_NAME=A', 'REGION_NAME=B'], settings: { REGION_NAME: 'B' }, warnings: ['localrc:2: REGION_NAME is set again here (first at localrc:1); this later value is the one used'] },
  { name: 'X=${X:-d} after X= is not a duplicate', lines: ['REGION_NAME=A', 'REGION_NAME="${REGION_NAME:-x}2"'], settings: { REGION_NAME: 'A2' } },
  {
    name: 'Keystone disabled while services that need it are enabled',
    lines: ['disable_service key'],
    error:
      'localrc: key (Keystone) is disabled, but g-api, placement-api, q-svc, n-api, n-cond, n-sch, n-cpu need it: the cloud would not work\n' +
      '    enable_service key, or disable_service g-api placement-api q-svc n-api n-cond n-sch n-cpu too',
  },
];

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function load(c: Case): Promise<{ config: Config; warnings: string[]; strip: (s: string) => string } | { error: ConfigError; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'stack-config-'));
  dirs.push(dir);
  const file = join(dir, c.file ?? 'localrc');
  await writeFile(file, c.bytes ?? c.lines.join('\n') + '\n');
  const strip = (s: string) => s.replaceAll(`${dir}/`, '');
  try {
    const { config, warnings } = await loadConfig(file, {
      interactive: false,
      readOnly: true,
      env: { ...c.env },
      detect: async () => ({ HOST_IP: '192.0.2.10', CIRROS_ARCH: 'x86_64' }),
    });
    return { config, warnings: warnings.map((w) => strip(`${w.origin}: ${w.message}`)), strip };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const error = new ConfigError(e.issues.map((i) => ({ ...i, origin: strip(i.origin), ...(i.hint ? { hint: strip(i.hint) } : {}) })));
    return { error, dir };
  }
}

describe('config table', () => {
  it('has at least 30 rows', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const result = await load(c);
      if (c.error !== undefined) {
        expect('error' in result ? result.error.message : 'loaded without error').toBe(c.error);
        return;
      }
      if ('error' in result) throw result.error;
      const { config, warnings, strip } = result;
      expect(warnings).toEqual(c.warnings ?? []);
      for (const [name, value] of Object.entries(c.settings ?? {})) {
        expect({ [name]: config.settings[name as SettingName] }).toEqual({ [name]: value });
      }
      if (c.services) expect([...config.services].sort()).toEqual([...c.services].sort());
      expect(config.postConfig.map((p) => ({ ...p, origin: strip(p.origin) }))).toEqual(c.postConfig ?? []);
    });
  }
});
