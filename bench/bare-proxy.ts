/**
 * The least a Node reverse proxy can do, for the bench to measure beside the
 * Node door (design §12): every request to one service, with the same HTTP
 * client and pool as the door (undici), and nothing else: no routing table,
 * no request id, no CORS, no metrics, headers passed as they come. What the
 * door costs beyond this is the door's own work; what this costs is what any
 * Node proxy costs on this machine.
 *
 *   node --import tsx bench/bare-proxy.ts PORT UPSTREAM_URL
 */
import http from 'node:http';
import { type Dispatcher, Agent as UndiciAgent } from 'undici';

const [port, upstream] = [Number(process.argv[2]), process.argv[3]];
if (!port || !upstream) throw new Error('usage: bare-proxy.ts PORT UPSTREAM_URL');
const origin = new URL(upstream).origin;
const dispatcher = new UndiciAgent({
  connections: 256,
  keepAliveTimeout: 4_000,
  keepAliveMaxTimeout: 4_000,
});

http
  .createServer((req, res) => {
    const hasBody = req.headers['content-length'] !== undefined;
    dispatcher
      .stream(
        {
          origin,
          path: req.url ?? '/',
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers: req.headers,
          body: hasBody ? req : null,
        },
        ({ statusCode, headers }) => {
          res.writeHead(statusCode, headers as http.OutgoingHttpHeaders);
          return res;
        },
      )
      .catch(() => res.destroy());
  })
  .listen(port, '127.0.0.1', () => console.log('listening'));
