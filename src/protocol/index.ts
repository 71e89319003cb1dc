// The gRPC-Web wire format: pure functions, no I/O, no dependencies beyond Node's Buffer.
export * from './content-type.js';
export * from './frame.js';
export * from './compression.js';
export * from './base64.js';
export * from './grpc-message.js';
export * from './trailer.js';
export * from './headers.js';
export * from './timeout.js';
export * from './http-headers-param.js';
export * from './browser-headers.js';
export * from './frame-scanner.js';
