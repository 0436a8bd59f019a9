// Runs around every kernel test file. A daemon that a failed file leaves running keeps owning
// its services and fails every file after it (the kernel table is one for the whole tier), so
// the file's leftovers are killed and the table cleared here, and the file fails for it.
import { afterAll } from 'vitest';
import { IpvsdProcess } from './ipvsd-process.js';
import { ipvsadm } from './ipvsadm.js';

afterAll(async () => {
  const left = await IpvsdProcess.killLeftovers();
  if (left.length === 0) return;
  ipvsadm('-C');
  throw new Error(`this file left ipvsd running (pid ${left.join(', ')}): killed it and cleared the table`);
});
