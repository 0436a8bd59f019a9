// A loopback SMTP server for the alert tests: records each session's commands and message.
import { createServer, type Server, type Socket } from 'node:net';

/** A loopback SMTP listener that records each session's commands; `reply` can refuse a command. */
export class SmtpListener {
  readonly sessions: string[][] = [];
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  port = 0;

  constructor(private readonly reply: (command: string) => string | undefined = () => undefined, private readonly greeting = '220 test ESMTP') {}

  async listen(): Promise<void> {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {}); // a client that resets (a daemon stopped mid-session) is not a test failure
      const session: string[] = [];
      this.sessions.push(session);
      socket.setEncoding('utf8');
      if (this.greeting) socket.write(`${this.greeting}\r\n`);
      let buffer = '';
      let inData = false;
      let data = '';
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (inData) {
            if (line === '.') {
              inData = false;
              session.push(`DATA ${data}`);
              socket.write('250 2.0.0 queued\r\n');
            } else data += `${line}\n`;
            continue;
          }
          session.push(line);
          const custom = this.reply(line);
          if (custom) socket.write(`${custom}\r\n`);
          else if (line.startsWith('HELO')) socket.write('250-test\r\n250 HELP\r\n');
          else if (line === 'DATA') {
            inData = true;
            socket.write('354 go ahead\r\n');
          } else if (line === 'QUIT') socket.end('221 bye\r\n');
          else socket.write('250 ok\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
