/**
 * @trackstack/ui: the local viewer of every run in a store (`trackstack ui`). Today its server
 * and JSON API (ui-server.ts); the web pages come next.
 */
export { startUi, type UiOptions, type UiServer, uiApp } from './ui-server.js';
