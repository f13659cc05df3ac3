import { describe, expect, it } from 'vitest';
import { FACTS_SCRIPT, parseFacts, parseOsRelease } from '../../lib/host/detect.ts';
import { StackError } from '../../lib/errors.ts';

const DEBIAN_12 = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`;

const UBUNTU_2204 = `PRETTY_NAME="Ubuntu 22.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.3 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
UBUNTU_CODENAME=jammy
`;

const ROCKY_9 = `NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
`;

const FEDORA_39 = `NAME="Fedora Linux"
VERSION="39 (Container Image)"
ID=fedora
VERSION_ID=39
VERSION_CODENAME=""
PLATFORM_ID="platform:f39"
PRETTY_NAME="Fedora Linux 39 (Container Image)"
VARIANT="Container Image"
VARIANT_ID=container
`;

const RHEL_8 = `NAME="Red Hat Enterprise Linux"
VERSION="8.9 (Ootpa)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="8.9"
PLATFORM_ID="platform:el8"
PRETTY_NAME="Red Hat Enterprise Linux 8.9 (Ootpa)"
`;

const ALPINE = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.0
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
`;

/** What FACTS_SCRIPT prints on a host with this os-release. */
const output = (osRelease: string, pid1 = 'systemd', arch = 'x86_64', hostname = 'h1'): string =>
  `@@stackts:os-release\n${osRelease}@@stackts:pid1\n${pid1}\n@@stackts:arch\n${arch}\n@@stackts:hostname\n${hostname}\n`;

describe('parseFacts', () => {
  it('Debian 12 with systemd', () => {
    expect(parseFacts(output(DEBIAN_12))).toEqual({
      family: 'debian',
      id: 'debian',
      version: '12',
      codename: 'bookworm',
      init: 'systemd',
      arch: 'x86_64',
      hostname: 'h1',
    });
  });

  it('Debian 12 in a container (PID 1 is not systemd) is sysv', () => {
    expect(parseFacts(output(DEBIAN_12, 'tini')).init).toBe('sysv');
    expect(parseFacts(output(DEBIAN_12, 'init')).init).toBe('sysv');
  });

  it('Ubuntu 22.04 is debian family', () => {
    expect(parseFacts(output(UBUNTU_2204, 'systemd', 'aarch64', 'u1'))).toEqual({
      family: 'debian',
      id: 'ubuntu',
      version: '22.04',
      codename: 'jammy',
      init: 'systemd',
      arch: 'aarch64',
      hostname: 'u1',
    });
  });

  it('Rocky 9, Fedora 39 and RHEL 8 are rhel family', () => {
    expect(parseFacts(output(ROCKY_9))).toMatchObject({ family: 'rhel', id: 'rocky', version: '9.3', codename: '' });
    expect(parseFacts(output(FEDORA_39))).toMatchObject({ family: 'rhel', id: 'fedora', version: '39', codename: '' });
    expect(parseFacts(output(RHEL_8))).toMatchObject({ family: 'rhel', id: 'rhel', version: '8.9' });
  });

  it('Alpine is refused with an error naming the host and the distro', () => {
    const err = (() => {
      try {
        parseFacts(output(ALPINE), 'h3');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(StackError);
    expect((err as StackError).message).toContain('h3');
    expect((err as StackError).message).toContain('Alpine Linux v3.19');
    expect((err as StackError).hint).toMatch(/Debian/);
  });

  it('a host without os-release gets an error naming it', () => {
    expect(() => parseFacts(output(''), 'h2')).toThrow(/h2.*os-release/);
  });

  it('tolerates CRLF line ends and the hostname from uname -n', () => {
    expect(parseFacts(output(DEBIAN_12, 'systemd', 'x86_64', 'node-1.example').replace(/\n/g, '\r\n'))).toMatchObject({
      family: 'debian',
      init: 'systemd',
      hostname: 'node-1.example',
    });
  });
});

describe('parseOsRelease', () => {
  it('unquotes double and single quoted values and their escapes', () => {
    const vars = parseOsRelease(`A="x \\"y\\" \\$z"\nB='a b'\nC=plain\n# comment\n\nD=""\n`);
    expect(vars.get('A')).toBe('x "y" $z');
    expect(vars.get('B')).toBe('a b');
    expect(vars.get('C')).toBe('plain');
    expect(vars.get('D')).toBe('');
    expect(vars.has('# comment')).toBe(false);
  });

  it("shows a remote host's terminal escapes escaped, never raw (they reach plan's header and messages)", () => {
    const vars = parseOsRelease('ID=debian\nVERSION_ID="12\x1b]0;owned\x07\x1b[2J"\nPRETTY_NAME="Deb\x9bian"\n');
    expect(vars.get('VERSION_ID')).toBe('12\\x1b]0;owned\\x07\\x1b[2J');
    expect(vars.get('PRETTY_NAME')).toBe('Deb\\x9bian');
    expect(parseFacts(output('ID=debian\nVERSION_ID="12\x1b[31m"\n')).version).toBe('12\\x1b[31m');
  });
});

describe('FACTS_SCRIPT', () => {
  it('is one script with all four sections', () => {
    for (const s of ['os-release', 'pid1', 'arch', 'hostname']) expect(FACTS_SCRIPT).toContain(`@@stackts:${s}`);
  });
});
