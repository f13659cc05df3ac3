import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { HostFacts } from '../../lib/host/types.ts';
import { startCommands, statusCommands, stopCommands, stopSignalOf, unitFile, type DaemonSpec } from '../../lib/daemon.ts';
import { DEBIAN_SYSTEMD, DEBIAN_SYSV, RHEL_SYSTEMD } from '../fixtures/recording-host.ts';

const RHEL_NOSYSTEMD: HostFacts = { ...RHEL_SYSTEMD, init: 'sysv' };
const STATE = '/var/lib/stack';

const glance: DaemonSpec = {
  name: 'glance-api',
  argv: ['/usr/bin/glance-api', '--config-file', '/etc/glance/glance-api.conf'],
  user: 'glance',
  group: 'glance',
  env: { OS_PLACEHOLDER: 'a b' },
  runtimeDirs: [{ path: '/run/glance', owner: 'glance:glance', mode: 0o750 }, { path: '/var/lock/glance', owner: 'glance' }],
  logFile: '/var/log/glance/glance-api.stdout.log',
  workDir: '/var/lib/glance',
};
const keystone: DaemonSpec = {
  name: 'keystone',
  argv: ['/usr/bin/uwsgi_python3', '--ini', '/etc/keystone/keystone-uwsgi.ini', '--http-socket', '127.0.0.1:5000'],
  user: 'keystone',
};
const mariadb: DaemonSpec = { name: 'mariadb', unit: 'mariadb' };

/** dash must accept the script startDaemon/stopDaemon would send. */
const syntaxOk = (lines: readonly string[]): void => {
  execFileSync('/bin/sh', ['-n'], { input: ['set -e', ...lines].join('\n') });
};

describe('startCommands', () => {
  it('unit on systemd: enable --now', () => {
    expect(startCommands(DEBIAN_SYSTEMD, mariadb, STATE)).toEqual(['systemctl enable --now mariadb']);
    expect(stopCommands(DEBIAN_SYSTEMD, mariadb, STATE)[0]).toContain('systemctl stop mariadb');
  });

  it('unit without systemd: service, or the init script where service is missing', () => {
    const [line] = startCommands(DEBIAN_SYSV, mariadb, STATE);
    expect(line).toBe('if command -v service >/dev/null 2>&1; then service mariadb start; else /etc/init.d/mariadb start; fi');
    expect(stopCommands(DEBIAN_SYSV, mariadb, STATE)[0]).toContain('service mariadb stop');
    syntaxOk(startCommands(DEBIAN_SYSV, mariadb, STATE));
    syntaxOk(stopCommands(DEBIAN_SYSV, mariadb, STATE));
    syntaxOk(statusCommands(DEBIAN_SYSV, mariadb, STATE));
  });

  it('argv without systemd on debian: start-stop-daemon, pidfile in STATEDIR/run, runtime dirs first', () => {
    const lines = startCommands(DEBIAN_SYSV, glance, STATE);
    const ssd = lines.find((l) => l.startsWith('start-stop-daemon'))!;
    expect(ssd).toContain('--start --background --make-pidfile --pidfile /var/lib/stack/run/glance-api.pid');
    expect(ssd).toContain("--chuid glance:glance --chdir /var/lib/glance --startas /bin/sh -- -c 'exec env -i");
    expect(ssd).toContain('/usr/bin/glance-api --config-file /etc/glance/glance-api.conf >>/var/log/glance/glance-api.stdout.log 2>&1 </dev/null');
    // The environment is cleaned, then only ours is set.
    expect(ssd).toMatch(/env -i HOME=.*PATH=\/usr\/local\/sbin.*LANG=C\.UTF-8.*OS_PLACEHOLDER=/);
    const mk = lines.indexOf('install -d -o glance -g glance -m 750 /run/glance');
    expect(mk).toBeGreaterThan(0);
    expect(lines).toContain('install -d -o glance -g glance -m 755 /var/lock/glance');
    expect(mk).toBeLessThan(lines.indexOf(ssd));
    // A re-run with our process alive stops before starting anything.
    expect(lines.findIndex((l) => l.includes('already running'))).toBeLessThan(lines.indexOf(ssd));
    syntaxOk(lines);
    syntaxOk(stopCommands(DEBIAN_SYSV, glance, STATE));
    syntaxOk(statusCommands(DEBIAN_SYSV, glance, STATE));
  });

  it('argv without systemd on rhel: setsid + setpriv (no start-stop-daemon there)', () => {
    const lines = startCommands(RHEL_NOSYSTEMD, glance, STATE);
    expect(lines.some((l) => l.startsWith('start-stop-daemon'))).toBe(false);
    const launch = lines.find((l) => l.includes('setsid'))!;
    expect(launch).toMatch(/^cd \/var\/lib\/glance && setsid \/bin\/sh -c 'echo \$\$ > "\$0"; exec setpriv --reuid="\$1" --regid="\$2" --init-groups/);
    expect(launch).toContain('/var/lib/stack/run/glance-api.pid "$uid" "$gid"');
    expect(launch).toMatch(/<\/dev\/null >\/dev\/null 2>&1 &$/);
    syntaxOk(lines);
  });

  it('argv with systemd: a unit file stack-NAME.service, reloaded only when it changed', () => {
    const lines = startCommands(DEBIAN_SYSTEMD, glance, STATE);
    expect(lines.at(-1)).toBe('systemctl enable --now stack-glance-api.service');
    expect(lines.some((l) => l.startsWith("cat > /etc/systemd/system/stack-glance-api.service.new <<'STACK_TS_UNIT'"))).toBe(true);
    expect(lines.some((l) => l.includes('cmp -s') && l.includes('systemctl daemon-reload'))).toBe(true);
    syntaxOk(lines);
    expect(stopCommands(RHEL_SYSTEMD, glance, STATE)[0]).toContain('systemctl stop stack-glance-api.service');
  });

  it('never takes over an existing log directory (a root-run uwsgi made /var/log/nova root-owned under a starting nova-conductor)', () => {
    for (const facts of [DEBIAN_SYSV, RHEL_NOSYSTEMD]) {
      const script = startCommands(facts, glance, STATE).join('\n');
      expect(script).toContain('[ -d /var/log/glance ] || install -d -o glance -g glance /var/log/glance');
      expect(script).not.toMatch(/^install -d -o \S+ -g \S+ \/var\/log\/glance$/m);
    }
  });

  it('rejects a spec with both or neither of unit and argv, and a relative argv[0]', () => {
    expect(() => startCommands(DEBIAN_SYSV, { name: 'x' }, STATE)).toThrow(/neither unit nor argv/);
    expect(() => startCommands(DEBIAN_SYSV, { name: 'x', unit: 'x', argv: ['/bin/true'] }, STATE)).toThrow(/not both/);
    expect(() => startCommands(DEBIAN_SYSV, { name: 'x', argv: ['glance-api'] }, STATE)).toThrow(/absolute path/);
  });
});

describe('unitFile', () => {
  it('runs as the user, recreates tmpfs dirs as root, logs to the same file as without systemd', () => {
    const u = unitFile(glance, STATE);
    expect(u).toContain('User=glance\nGroup=glance\n');
    expect(u).toContain('ExecStartPre=+/usr/bin/install -d -o glance -g glance -m 750 /run/glance\n');
    expect(u).toContain('WorkingDirectory=/var/lib/glance\n');
    expect(u).toContain('Environment="OS_PLACEHOLDER=a b"\n');
    expect(u).toContain(
      'ExecStart=/bin/sh -c "exec /usr/bin/glance-api --config-file /etc/glance/glance-api.conf >>/var/log/glance/glance-api.stdout.log 2>&1"\n',
    );
    expect(u).toContain('KillSignal=SIGTERM\n');
    expect(u).toContain('WantedBy=multi-user.target');
  });
  it('doubles $ and % so systemd passes them through', () => {
    const u = unitFile({ name: 'x', argv: ['/bin/echo', '$HOME', '100%'] }, STATE);
    expect(u).toContain(`ExecStart=/bin/sh -c "exec /bin/echo '$$HOME' 100%% >>/var/lib/stack/logs/x.log 2>&1"`);
  });
});

describe('stop signal', () => {
  it('uwsgi gets SIGINT (its SIGTERM reloads unless die-on-term is set); others SIGTERM', () => {
    expect(stopSignalOf(keystone)).toBe('INT');
    expect(stopSignalOf(glance)).toBe('TERM');
    expect(stopSignalOf({ ...glance, stopSignal: 'QUIT' })).toBe('QUIT');
    expect(unitFile(keystone, STATE)).toContain('KillSignal=SIGINT');
    expect(stopCommands(DEBIAN_SYSV, keystone, STATE).join('\n')).toContain('kill -INT -- "-$pgid"');
  });
});

describe('the systemd start script', () => {
  it('its here-document writes exactly unitFile() (run with the unit directory moved to a temp dir)', async () => {
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const dir = await mkdtemp(`${os.tmpdir()}/unit-`);
    try {
      const write = startCommands(DEBIAN_SYSTEMD, glance, STATE).find((l) => l.startsWith('cat > '))!;
      execFileSync('/bin/sh', ['-c', write.replaceAll('/etc/systemd/system/', `${dir}/`)]);
      expect(await readFile(`${dir}/stack-glance-api.service.new`, 'utf8')).toBe(unitFile(glance, STATE));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
