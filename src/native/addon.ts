// Loads build/Release/nsock.node (from binding.gyp) on first use, so modules that only need
// constants or sockaddr helpers import fine where the addon has not been built.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Flat receive result: [data, address | null, control | null, msg_flags] per datagram. */
export type FlatDatagrams = (Buffer | number | null)[];
export type NativeHandle = { readonly __nsock: unique symbol };
export type ReceiveCallback = (error: Error | null, datagrams: FlatDatagrams | null) => void;

export interface NsockAddon {
  setErrorClass(constructor: new (message: string, errno: number, code: string, syscall: string) => Error): void;
  open(domain: number, type: number, protocol: number): NativeHandle;
  fd(handle: NativeHandle): number;
  bind(handle: NativeHandle, address: Buffer): void;
  connect(handle: NativeHandle, address: Buffer): void;
  getsockname(handle: NativeHandle): Buffer;
  setsockopt(handle: NativeHandle, level: number, name: number, value: Buffer | number): void;
  getsockopt(handle: NativeHandle, level: number, name: number, length: number): Buffer;
  send(handle: NativeHandle, data: Buffer | readonly Buffer[], address?: Buffer): number;
  sendMany(handle: NativeHandle, datagrams: readonly (Buffer | readonly Buffer[])[], address?: Buffer): number;
  receive(handle: NativeHandle, batch: number, bufferSize: number, address: boolean, control: boolean): FlatDatagrams;
  start(
    handle: NativeHandle,
    callback: ReceiveCallback,
    batch: number,
    bufferSize: number,
    address: boolean,
    control: boolean,
  ): void;
  stop(handle: NativeHandle): void;
  setRef(handle: NativeHandle, ref: boolean): void;
  close(handle: NativeHandle): void;
  interfaceIndex(name: string): number;
  interfaceName(index: number): string;
}

export class AddonMissingError extends Error {
  readonly code = 'ERR_NSOCK_MISSING';
  override readonly name = 'AddonMissingError';
}

/** The package root: the nearest directory up from this file that holds binding.gyp. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new AddonMissingError('nsock: no binding.gyp above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

let loaded: NsockAddon | undefined;

export function loadAddon(register: (addon: NsockAddon) => void): NsockAddon {
  if (loaded) return loaded;
  const path = join(packageRoot(), 'build', 'Release', 'nsock.node');
  if (!existsSync(path)) {
    throw new AddonMissingError(`nsock: native addon not built (${path} missing); run "npm run build:native"`);
  }
  const addon = createRequire(import.meta.url)(path) as NsockAddon;
  register(addon);
  loaded = addon;
  return addon;
}
