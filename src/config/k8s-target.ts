// k8s:///SERVICE.NAMESPACE:PORT, the EndpointSlice-watched target. Its own file so that the rules
// Kubernetes sets for these names stay next to each other.
import type { TargetSpec } from './types.js';

/** A Service name (DNS-1035 label) or a namespace (DNS-1123 label): no dots, at most 63 characters. */
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A Service port name (IANA_SVC_NAME): lower case, digits and '-', at least one letter, at most 15. */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;

const FORM = 'write k8s:///SERVICE.NAMESPACE:PORT (PORT: the Pods\' port number, or the Service port\'s name)';

export function parseK8sTarget(s: string, text: string): Extract<TargetSpec, { kind: 'k8s' }> {
  const m = /^k8s:\/\/([^/]*)\/(.*)$/i.exec(text);
  if (m === null) throw new Error(`'${s}' is not a Kubernetes target (${FORM})`);
  if (m[1] !== '') {
    throw new Error(`'${s}': an authority ('${m[1]}') is not supported; choose the API server with --kubeconfig`);
  }
  const rest = m[2]!;
  const colon = rest.lastIndexOf(':');
  if (colon < 0) throw new Error(`'${s}' has no port: ${FORM}`);
  const name = rest.slice(0, colon);
  const portText = rest.slice(colon + 1);
  const parts = name.split('.');
  if (parts.length !== 2) {
    throw new Error(`'${s}': '${name}' is not SERVICE.NAMESPACE (${FORM}; a cluster domain such as .svc.cluster.local is not needed)`);
  }
  const [service, namespace] = parts as [string, string];
  if (!LABEL.test(service)) throw new Error(`'${s}': '${service}' is not a valid Service name`);
  if (!LABEL.test(namespace)) throw new Error(`'${s}': '${namespace}' is not a valid namespace`);
  let port: number | string;
  if (/^\d+$/.test(portText)) {
    port = Number(portText);
    if (port < 1 || port > 65535) throw new Error(`'${s}': port ${port} is out of range 1-65535`);
  } else if (PORT_NAME.test(portText)) {
    port = portText;
  } else {
    throw new Error(`'${s}': '${portText}' is neither a port number nor a valid port name`);
  }
  return { kind: 'k8s', text, service, namespace, port };
}
