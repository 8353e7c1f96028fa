import { close, open, read } from 'node:fs';
import { IntegrityError } from '../core/errors.ts';

/**
 * `length` bytes of `path` at `position`, through the callback fs API: for small reads it costs
 * less than FileHandle (no handle object, fewer promises). The descriptor is closed in the
 * background once the bytes are in. A file that ends first is an IntegrityError.
 */
export function preadFile(path: string, position: number, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    open(path, 'r', (openError, fd) => {
      if (openError) return reject(openError);
      const buffer = Buffer.allocUnsafe(length);
      let offset = 0;
      const finish = (error?: Error) => {
        close(fd, () => {});
        if (error) reject(error);
        else resolve(buffer);
      };
      const next = () => {
        read(fd, buffer, offset, length - offset, position + offset, (readError, bytesRead) => {
          if (readError) return finish(readError);
          if (bytesRead === 0) return finish(new IntegrityError(`${path} is truncated`));
          offset += bytesRead;
          if (offset < length) next();
          else finish();
        });
      };
      next();
    });
  });
}
