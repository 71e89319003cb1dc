export { K8sResolver, type K8sResolverOptions } from './resolver.js';
export { inClusterAccess, kubeconfigAccess, IN_CLUSTER_FILES, type InClusterFiles, type KubeAccess } from './access.js';
export { joinSlices, endpointRole, slicePort, SERVICE_NAME_LABEL, type EndpointSlice } from './slices.js';
export { KubeApiClient, KubeApiError, LineReader, type WatchEvent } from './api-client.js';
