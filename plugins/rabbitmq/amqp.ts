// RabbitMQ asked the way the services ask it: an AMQP 0-9-1 login (amqplib) through a port that
// forwards to the broker, instead of rabbitmqctl, whose every call starts an Erlang VM (0.4-1 s on
// an idle host, 2-20 s on a loaded one) to ask the same question.

import { connect, type ChannelModel } from 'amqplib';

/** What the broker made of a login. */
export type BrokerAnswer =
  /** Logged in (and, when asked, declared, published and read on a queue of its own). */
  | { readonly kind: 'ok' }
  /** Something answered, but refused the user or the password. */
  | { readonly kind: 'refused'; readonly detail: string }
  /** Logged in, but the vhost or a permission was refused. */
  | { readonly kind: 'forbidden'; readonly detail: string }
  /** Nothing spoke AMQP there (refused, closed, timed out). */
  | { readonly kind: 'unreachable'; readonly detail: string };

export interface LoginProbe {
  /** Local port that reaches the broker's AMQP listener. */
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly vhost?: string;
  /** Also prove configure, write and read: declare a queue, publish to it through the default exchange, get the message back. */
  readonly permissions?: boolean;
  readonly timeoutMs?: number;
}

/** The broker's reply code in an amqplib error ("... 403 (ACCESS-REFUSED) with message ..."), or its own `code`. */
const replyCode = (err: unknown): number | undefined => {
  const own = (err as { code?: unknown }).code;
  if (typeof own === 'number') return own;
  const m = /\b(\d{3}) \([A-Z-]+\)/.exec(String((err as Error).message ?? err));
  return m ? Number(m[1]) : undefined;
};

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

/** Sorts a failed connect or channel operation into refused / forbidden / unreachable. */
export function classify(err: unknown, stage: 'login' | 'permissions'): BrokerAnswer {
  const code = replyCode(err);
  const detail = message(err);
  // 403 during the handshake is the login (PLAIN) refused; on a channel it is a permission.
  if (code === 403) return stage === 'login' ? { kind: 'refused', detail } : { kind: 'forbidden', detail };
  // 530 NOT_ALLOWED: no permissions at all on the vhost (Connection.Open refused). amqplib words
  // that one without the code: the login passed, and the broker closed instead of opening the vhost.
  if (code === 530) return { kind: 'forbidden', detail };
  if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(detail)) return { kind: 'forbidden', detail: `the broker refused access to the vhost (${detail})` };
  if (stage === 'permissions') return { kind: 'forbidden', detail };
  return { kind: 'unreachable', detail };
}

async function provePermissions(conn: ChannelModel): Promise<BrokerAnswer> {
  const ch = await conn.createConfirmChannel();
  // A refused operation closes the channel with an 'error' event; unheard, it would end the process.
  ch.on('error', () => undefined);
  const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
  ch.sendToQueue(queue, Buffer.from('stack.ts permission check'));
  await ch.waitForConfirms();
  const got = await ch.get(queue, { noAck: true });
  await ch.close().catch(() => undefined);
  return got ? { kind: 'ok' } : { kind: 'forbidden', detail: `a message published to its own queue ${queue} did not come back` };
}

/** One login (and optionally the permission round trip); never throws. */
export async function probeLogin(p: LoginProbe): Promise<BrokerAnswer> {
  const timeoutMs = p.timeoutMs ?? 10_000;
  let conn: ChannelModel | undefined;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<BrokerAnswer>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'unreachable', detail: `no AMQP answer within ${timeoutMs / 1000} s` }), timeoutMs);
  });
  const attempt = async (): Promise<BrokerAnswer> => {
    try {
      // The object form: a password with @ : / needs no URL encoding.
      conn = await connect({ protocol: 'amqp', hostname: '127.0.0.1', port: p.port, username: p.user, password: p.password, vhost: p.vhost ?? '/', heartbeat: 0 }, { timeout: timeoutMs, noDelay: true });
      conn.on('error', () => undefined);
    } catch (err) {
      return classify(err, 'login');
    }
    if (!p.permissions) return { kind: 'ok' };
    try {
      return await provePermissions(conn);
    } catch (err) {
      return classify(err, 'permissions');
    }
  };
  try {
    return await Promise.race([attempt(), timedOut]);
  } finally {
    clearTimeout(timer);
    const c = conn as ChannelModel | undefined;
    await c?.close().catch(() => undefined);
  }
}
