/**
 * `npm run door-files`: what the nginx front door is made of (design §12),
 * generated from the routing table and the services' own OpenAPI documents.
 *
 *   npm run door-files                   writes gateway/nginx/tasksync.conf (docker-compose's door)
 *   npm run door-files -- --static DIR   writes DIR/openapi.json and DIR/docs/ (the reference page)
 *
 * A test fails when the committed configuration is not what the table makes.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runMain } from '@tasksync/platform';
import { commandOpenApi } from '../command-service/src/openapi';
import { loadGatewayConfig } from '../gateway/src/config';
import { DOCS_ASSETS, DOCS_INIT, DOCS_PAGE, swaggerUiDir } from '../gateway/src/docs';
import { type NginxOptions, nginxConfig } from '../gateway/src/nginx';
import { type ApiService, mergeOpenApi, type OpenApiDocument } from '../gateway/src/openapi';
import { identityOpenApi } from '../identity-service/src/openapi';
import { queryOpenApi } from '../query-service/src/openapi';

export const NGINX_CONF = join(repoRoot, 'gateway/nginx/tasksync.conf');

/** The door in docker-compose.yml: the services by their compose names, the defaults' limits. */
export const composeNginx = (): NginxOptions => ({
  listen: 3000,
  upstreams: {
    identity: ['identity-service:3003'],
    command: ['command-service:3002'],
    query: ['query-service:3004'],
    notifier: ['notifier-1:3001', 'notifier-2:3001'],
  },
  staticRoot: '/usr/share/tasksync-door',
  rates: loadGatewayConfig({}).rates,
  timeoutSeconds: 30,
});

/** The merged document, from the services' documents as this code makes them. */
export const mergedApiDocument = () =>
  mergeOpenApi({
    identity: identityOpenApi(),
    command: commandOpenApi(),
    query: queryOpenApi(),
  } as unknown as Record<ApiService, OpenApiDocument>);

/** The reference page and the merged document, as the nginx door serves them from `dir`. */
export const writeDoorStatic = (dir: string) => {
  mkdirSync(join(dir, 'docs'), { recursive: true });
  writeFileSync(join(dir, 'openapi.json'), `${JSON.stringify(mergedApiDocument(), null, 2)}\n`);
  writeFileSync(join(dir, 'docs/index.html'), DOCS_PAGE);
  writeFileSync(join(dir, 'docs/init.js'), DOCS_INIT);
  for (const asset of DOCS_ASSETS)
    copyFileSync(join(swaggerUiDir(), asset), join(dir, 'docs', asset));
};

const main = async () => {
  const args = process.argv.slice(2);
  const at = args.indexOf('--static');
  if (at >= 0) {
    const dir = args[at + 1];
    if (!dir) throw new Error('--static needs a directory');
    writeDoorStatic(dir);
    console.log(`wrote the door's openapi.json and docs/ to ${dir}`);
    return;
  }
  mkdirSync(join(repoRoot, 'gateway/nginx'), { recursive: true });
  writeFileSync(NGINX_CONF, nginxConfig(composeNginx()));
  console.log(`wrote ${NGINX_CONF}`);
};

if (process.argv[1]?.endsWith('door-files.ts')) void runMain(main);
