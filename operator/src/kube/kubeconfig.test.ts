import { staticAccessOf } from './kubeconfig.js';

const files: Record<string, string> = { '/etc/kube/ca.crt': 'CA FILE', '/home/me/.kube/me.key': 'KEY FILE' };
const readFile = (path: string): Buffer => {
  if (!(path in files)) throw new Error(`ENOENT ${path}`);
  return Buffer.from(files[path]!);
};

function config(cluster: Record<string, unknown>, user: Record<string, unknown>, namespace?: string) {
  return {
    'current-context': 'here',
    contexts: [
      { name: 'elsewhere', context: { cluster: 'other', user: 'other' } },
      { name: 'here', context: { cluster: 'c', user: 'u', ...(namespace ? { namespace } : {}) } },
    ],
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', ...cluster } }],
    users: [{ name: 'u', user }],
  };
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

describe('staticAccessOf', () => {
  it('reads certificates inline and from files relative to the kubeconfig, and the context namespace', async () => {
    const access = staticAccessOf(
      config(
        { 'certificate-authority': '/etc/kube/ca.crt', 'tls-server-name': 'kubernetes' },
        { 'client-certificate-data': b64('CERT'), 'client-key': 'me.key' },
        'ml',
      ),
      '/home/me/.kube',
      readFile,
    );
    if ('fallback' in access) throw new Error(access.fallback);
    expect(access.namespace).toBe('ml');
    expect(access.credentials.server).toBe('https://127.0.0.1:6443');
    expect({ ...access.credentials.tls, ca: String(access.credentials.tls.ca) }).toEqual({
      ca: 'CA FILE',
      cert: Buffer.from('CERT'),
      key: Buffer.from('KEY FILE'),
      servername: 'kubernetes',
    });
    expect(await access.credentials.headers()).toEqual({});
  });

  it("reads minikube's kubeconfig, whose cluster carries extensions", () => {
    const extensions = [{ name: 'cluster_info', extension: { provider: 'minikube.sigs.k8s.io' } }];
    const access = staticAccessOf(config({ extensions }, { token: 't' }), '/', readFile);
    expect('fallback' in access).toBe(false);
  });

  it.each([
    [{ token: 'abc' }, { Authorization: 'Bearer abc' }],
    [{ username: 'admin', password: 'secret' }, { Authorization: `Basic ${b64('admin:secret')}` }],
  ])('authenticates with %j', async (user, headers) => {
    const access = staticAccessOf(config({ 'insecure-skip-tls-verify': true }, user), '/', readFile);
    if ('fallback' in access) throw new Error(access.fallback);
    expect(await access.credentials.headers()).toEqual(headers);
    expect(access.credentials.tls.rejectUnauthorized).toBe(false);
    expect(access.namespace).toBe('default');
  });

  it.each([
    [config({}, { exec: { command: 'aws' } }), 'uses exec'],
    [config({}, { 'auth-provider': { name: 'oidc' } }), 'uses auth-provider'],
    [config({}, { tokenFile: '/var/run/token' }), 'uses tokenFile'],
    [config({ 'proxy-url': 'socks5://p:1080' }, {}), 'uses proxy-url'],
    [{ ...config({}, {}), 'current-context': 'gone' }, 'no context named "gone"'],
  ])('leaves to client-node what it does not read: %#', (kubeconfig, why) => {
    expect(staticAccessOf(kubeconfig, '/', readFile)).toEqual({ fallback: why });
  });
});
