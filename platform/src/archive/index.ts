// The cold archive (design §11): segments and manifests, the archiver's run
// over one log, and the one range reader every reader of a log goes through.
export * from './archiver';
export * from './config';
export * from './entry-id';
export * from './lease';
export * from './reader';
export * from './segment';
export * from './store';
