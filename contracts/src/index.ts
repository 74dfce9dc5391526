// The shared language of TaskSync (design §1): schemas, events, folds, positions
// and the key layout. Pure: no I/O, no Node built-ins, so the board imports it too.
export * from './api';
export * from './auth';
export * from './domain/fields';
export * from './domain/project';
export * from './domain/task';
export * from './domain/user';
export * from './event-types';
export * from './events';
export * from './ids';
export * from './keys';
export * from './positions';
export * from './problem';
