// zstd by wrapping the stock binary (multithreaded, and a responder can `zstd -d` by hand).
import { startTool, type ToolProcess } from '../util/tool-process.js';

export function startCompress(level: number, threads: number): ToolProcess {
  return startTool('zstd', [`-${level}`, `-T${threads}`, '-q', '-c']);
}

export function startDecompress(): ToolProcess {
  return startTool('zstd', ['-d', '-q', '-c']);
}
