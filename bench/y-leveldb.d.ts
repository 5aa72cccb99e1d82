/**
 * The part of y-leveldb the benchmark uses. Its own typings exist but are not reachable through its
 * package.json "exports" under NodeNext resolution.
 */
declare module 'y-leveldb' {
  export class LeveldbPersistence {
    constructor(location: string)
    storeUpdate(docName: string, update: Uint8Array): Promise<number>
    destroy(): Promise<void>
  }
}
