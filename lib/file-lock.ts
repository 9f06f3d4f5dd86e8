// flock(2) on an open file, for state that several processes share (the FileStore's lock file).
import { tryLock } from './kernel/sockets'

/**
 * Takes an exclusive flock(2) on the open file `fd` without blocking: true when it is ours,
 * false while another open file holds it. Closing the fd releases it.
 */
export function tryLockFile(fd: number, file: string): boolean {
  return tryLock(fd, file)
}
