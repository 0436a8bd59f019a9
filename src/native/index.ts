export * from './constants.js';
export * from './sockaddr.js';
export { NativeSocket, SocketError, interfaceIndex, interfaceName } from './socket.js';
export type { ReceivedDatagram, ReceiveOptions } from './socket.js';
export { AddonMissingError } from './addon.js';
