// Entry point of the config part: read a file (with includes) and resolve it.

import { type BsrConfig, resolveConfig } from './model';
import { parseConfigFile, parseConfigText } from './parser';

export function loadConfig(file: string): BsrConfig {
  return resolveConfig(parseConfigFile(file));
}

export function loadConfigText(text: string, file: string): BsrConfig {
  return resolveConfig(parseConfigText(text, file));
}
