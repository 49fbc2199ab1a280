/** The stack model, its validation and the config renderers: everything public of config/. */
export * from './model';
export * from './secrets';
export * from './validate';
export * from './render';
