#!/usr/bin/env node
// `npx summitpad <command>`: runs the TypeScript CLI through tsx, with no build step.
import { register } from 'tsx/esm/api'

register()
await import('../server/cli.ts')
