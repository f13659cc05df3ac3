// Faults named at once: a daemon that dies while a wait is on is reported within seconds with
// the cause its own log names (this start's lines, not older ones) and a hint that matches it.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { findCause, linesSince } from '../../lib/log-cause.ts';
import { waitForHttp } from '../../lib/wait.ts';
import { StackError } from '../../lib/errors.ts';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });

const LOG = `2026-11-27 13:00:00.000 1 ERROR nova.compute Access denied for user 'nova'@'localhost' (old run)
2026-11-27 13:40:01.100 7 INFO nova.service Starting compute node (version 26.2.0)
2026-11-27 13:40:02.300 7 ERROR oslo_service.service nova.exception.HypervisorUnavailable: Connection to the hypervisor is broken on host: h1
Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/nova/virt/libvirt/host.py", line 598, in get_connection`;

describe('log causes', () => {
  it('each known cause gets its own hint', () => {
    expect(findCause('nova.exception.HypervisorUnavailable: Connection to the hypervisor is broken')?.hint).toMatch(/libvirtd/);
    expect(findCause(`(1045, "Access denied for user 'glance'@'localhost' (using password: YES)")`)?.hint).toMatch(/DATABASE_PASSWORD/);
    expect(findCause('ERROR oslo.messaging._drivers.impl_rabbit [-] AMQP server on 127.0.0.1:5672 is unreachable: [Errno 111] ECONNREFUSED')?.hint).toMatch(/RabbitMQ/);
    expect(findCause('all is well')).toBeUndefined();
  });

  it("only this run's window: the old access-denied line is not the cause", () => {
    const mine = linesSince(LOG, new Date('2026-11-27T13:40:00Z'));
    expect(mine).not.toContain('old run');
    expect(mine).toContain('Traceback');
    expect(findCause(mine)?.line).toMatch(/HypervisorUnavailable/);
    expect(findCause(LOG)?.line).toMatch(/HypervisorUnavailable/);
  });
});

describe('waitForHttp with the pid watched', () => {
  it('a daemon that dies is reported within seconds, not at the timeout, with its cause and hint', async () => {
    const port = await freePort();
    let alive = true;
    setTimeout(() => (alive = false), 800);
    const t0 = Date.now();
    const err = await waitForHttp(`http://127.0.0.1:${port}/`, {
      name: 'nova-compute',
      timeoutMs: 90_000,
      alive: async () => alive,
      onTimeout: async () => linesSince(LOG, new Date('2026-11-27T13:40:00Z')),
      logFile: '/var/log/nova/nova-compute.log',
    }).catch((e) => e);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(err).toBeInstanceOf(StackError);
    expect(err.message).toMatch(/nova-compute exited while starting .*its log says: .*HypervisorUnavailable/);
    expect(err.hint).toMatch(/libvirtd/);
    expect(err.logTail.file).toBe('/var/log/nova/nova-compute.log');
  });

  it('alive but not answering: the timeout, with the hint of the cause in its log', async () => {
    const port = await freePort();
    const err = await waitForHttp(`http://127.0.0.1:${port}/`, {
      name: 'glance-api',
      timeoutMs: 1500,
      alive: async () => true,
      onTimeout: async () => 'ERROR glance (1045, "Access denied for user \'glance\'@\'localhost\'")',
    }).catch((e) => e);
    expect(err.message).toMatch(/glance-api did not answer .* within 2 s .*Access denied/);
    expect(err.hint).toMatch(/DATABASE_PASSWORD/);
  });
});
