// Runs in every test file: after the file's own afterAll hooks (vitest runs them as a
// stack), the temp dirs the shared helpers made are removed.
import { afterAll } from 'vitest';
import { removeTempDirs } from './helpers/temp-dirs.js';

afterAll(removeTempDirs);
