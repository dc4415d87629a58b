// Removes `DELIMITER ;; … DELIMITER ;` blocks from a table part. In mysqldump's table
// sections those blocks are exactly the triggers; a copy restored into another schema
// leaves them out because their text may name the original database.
import { Transform, type TransformCallback } from 'node:stream';

export class StripTriggers extends Transform {
  private carry = '';
  private inBlock = false;
  stripped = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const text = this.carry + chunk.toString('latin1');
    const lastNl = text.lastIndexOf('\n');
    this.carry = text.slice(lastNl + 1);
    done(null, Buffer.from(this.dropBlocks(text.slice(0, lastNl + 1)), 'latin1'));
  }

  override _flush(done: TransformCallback): void {
    done(null, Buffer.from(this.dropBlocks(this.carry), 'latin1'));
  }

  private dropBlocks(lines: string): string {
    if (!this.inBlock && lines.indexOf('DELIMITER ;;') < 0) return lines;
    const out: string[] = [];
    for (const line of lines.split(/(?<=\n)/)) {
      if (!this.inBlock && line.startsWith('DELIMITER ;;')) {
        this.inBlock = true;
        this.stripped++;
        continue;
      }
      if (this.inBlock) {
        if (line.startsWith('DELIMITER ;') && !line.startsWith('DELIMITER ;;')) this.inBlock = false;
        continue;
      }
      out.push(line);
    }
    return out.join('');
  }
}
