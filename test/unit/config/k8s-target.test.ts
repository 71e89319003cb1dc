import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../../src/config/index.js';

function load(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  const r = loadConfig(argv, env);
  if (!('config' in r)) throw new Error('no config');
  return r.config;
}

describe('k8s:/// targets', () => {
  it('reads SERVICE.NAMESPACE and a port number or a port name', () => {
    expect(load(['--upstream', 'k8s:///echo.shop:50051']).upstream).toEqual({
      kind: 'k8s',
      text: 'k8s:///echo.shop:50051',
      service: 'echo',
      namespace: 'shop',
      port: 50051,
    });
    expect(load(['--route', '/a.B/=k8s:///echo-v2.prod-eu:grpc-web']).routes[0]!.target).toMatchObject({
      kind: 'k8s',
      service: 'echo-v2',
      namespace: 'prod-eu',
      port: 'grpc-web',
    });
  });

  it.each([
    ['k8s:///echo:50051', /'echo' is not SERVICE.NAMESPACE/],
    ['k8s:///echo.shop.svc.cluster.local:50051', /is not SERVICE.NAMESPACE .*cluster domain/],
    ['k8s:///echo.shop', /has no port/],
    ['k8s:///echo.shop:0', /port 0 is out of range/],
    ['k8s:///echo.shop:GRPC', /'GRPC' is neither a port number nor a valid port name/],
    ['k8s:///echo.shop:a-very-long-port-name', /neither a port number nor a valid port name/],
    ['k8s:///Echo.shop:1', /'Echo' is not a valid Service name/],
    ['k8s:///echo.sh_op:1', /'sh_op' is not a valid namespace/],
    ['k8s://api.example/echo.shop:1', /an authority \('api.example'\) is not supported; choose the API server with --kubeconfig/],
    ['k8s:echo.shop:1', /is not a Kubernetes target/],
  ])('refuses %s', (target, message) => {
    expect(() => load(['--upstream', target])).toThrow(message);
  });
});

describe('--kubeconfig and --prefer-zone', () => {
  it('--kubeconfig from the flag, GWG_KUBECONFIG, or KUBECONFIG (its first file); the GWG_ variable wins', () => {
    const up = ['--upstream', 'k8s:///echo.shop:1'];
    expect(load(up).kubernetes.kubeconfigPath).toBeNull();
    expect(load([...up, '--kubeconfig', '/a/config']).kubernetes.kubeconfigPath).toBe('/a/config');
    expect(load(up, { KUBECONFIG: '/b/config:/c/config' }).kubernetes.kubeconfigPath).toBe('/b/config');
    expect(load(up, { KUBECONFIG: '/b/config', GWG_KUBECONFIG: '/d/config' }).kubernetes.kubeconfigPath).toBe('/d/config');
    expect(load([...up, '--kubeconfig', '/a/config'], { KUBECONFIG: '/b/config' }).kubernetes.kubeconfigPath).toBe('/a/config');
  });

  it('--prefer-zone needs a k8s:/// target and a zone name', () => {
    expect(load(['--upstream', 'k8s:///echo.shop:1', '--prefer-zone', 'us-east-1a']).upstreamOptions.preferZone).toBe('us-east-1a');
    expect(load(['--upstream', 'k8s:///echo.shop:1']).upstreamOptions.preferZone).toBeNull();
    expect(() => load(['--upstream', 'dns:///echo:1', '--prefer-zone', 'us-east-1a'])).toThrow(
      /--prefer-zone: has no effect without a k8s:\/\/\/ target/,
    );
    expect(() => load(['--upstream', 'k8s:///echo.shop:1', '--prefer-zone', 'a zone'])).toThrow(/'a zone' is not a zone name/);
  });
});
