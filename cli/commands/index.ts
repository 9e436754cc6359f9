import type { CommandModule } from 'yargs';
import pull from './pull.js';
import images from './images.js';
import checkout from './checkout.js';
import fsck from './fsck.js';
import install from './install.js';
import uninstall from './uninstall.js';
import { start, stop } from './startstop.js';
import run from './run.js';
import containers from './containers.js';
import lint from './lint.js';
import render from './render.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
  pull, images, checkout, fsck, install, uninstall, start, stop, run, containers, lint, render,
];
