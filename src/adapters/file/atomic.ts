// Writing an output file so that whoever reads it (node_exporter's textfile collector, a dashboard
// job) never sees half of it: the text goes to a temporary file in the same directory (the same
// file system, so the rename is atomic), is flushed, then renamed over the target. A failed write
// leaves the target as it was and removes its temporary file.
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { OperatorError } from "../../config/operator-error.js";

export class OutputFileError extends OperatorError {}

/** Refuses, before anything is written (or scanned), a file whose directory is missing or that is a directory. */
export function checkOutputFile(file: string): void {
  const dir = dirname(resolve(file));
  const dirStat = statSync(dir, { throwIfNoEntry: false });
  if (!dirStat) throw new OutputFileError(`cannot write ${file}: directory ${dir} does not exist`);
  if (!dirStat.isDirectory()) throw new OutputFileError(`cannot write ${file}: ${dir} is not a directory`);
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory())
    throw new OutputFileError(`cannot write ${file}: it is a directory`);
}

/** Replaces `file` with `text` in one step, with `mode` (0644 by default) whatever the umask. */
export function writeFileAtomically(file: string, text: string, mode = 0o644): void {
  checkOutputFile(file);
  const target = resolve(file);
  const temporary = join(
    dirname(target),
    `.${basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`,
  );
  let fd: number | undefined;
  try {
    fd = openSync(temporary, "wx", mode);
    fchmodSync(fd, mode);
    writeFileSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temporary, target);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    throw new OutputFileError(`cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
}
