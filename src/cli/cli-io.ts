// What a command reads and writes besides its files: the process's streams and environment for the
// installed CLI (main.ts), captured ones when the tests run a command in the test's own process.

export interface CliIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  env: NodeJS.ProcessEnv
}

/** Resolves once `text` is handed to the stream, so a large answer drains fully into a pipe before exit. */
export function writeAll (stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, error => error != null ? reject(error) : resolve())
  })
}
