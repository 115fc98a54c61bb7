// A transfer worker's entry: workers do not inherit the parent's tsx hooks
// when it registered them itself (cli/icboot.js), so this one registers them.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
