// The direction data flows in (docs/design.md): each folder of lib/ may import only the folders
// named in ALLOWED; cli/ may import anything in lib/, and nothing in lib/ imports cli/.
// `npm run check:deps` (part of `npm test`) fails on any import against these rules.
const ALLOWED = {
  layer: [],
  template: [],
  store: ['layer'],
  rootfs: ['layer', 'store', 'template'],
  hostfs: ['template', 'rootfs'],
  image: ['layer', 'store', 'rootfs', 'hostfs', 'template', 'trust'],
  // the signature policy: references from lib/image, nothing downstream of the pull
  trust: ['image'],
  runtime: ['template'],
  systemd: ['template', 'runtime'],
  lint: ['template', 'runtime', 'systemd', 'rootfs', 'hostfs'],
  deploy: ['layer', 'template', 'store', 'rootfs', 'hostfs', 'image', 'runtime', 'systemd', 'trust'],
};

const folderRules = Object.entries(ALLOWED).map(([from, to]) => ({
  name: `${from}-imports-only-${to.length ? to.join('-') : 'base'}`,
  comment: `lib/${from}/ may import lib/*.ts and lib/{${to.join(',')}}/ only`,
  severity: 'error',
  from: { path: `^lib/${from}/` },
  to: { path: '^lib/', pathNot: [`^lib/[^/]+\\.ts$`, `^lib/(${[from, ...to].join('|')})/`] },
}));

module.exports = {
  forbidden: [
    ...folderRules,
    {
      name: 'trust-imports-only-references',
      comment: 'lib/trust/ asks the policy about references; transports and the pull call it, not the other way',
      severity: 'error',
      from: { path: '^lib/trust/' },
      to: { path: '^lib/image/', pathNot: '^lib/image/reference\\.ts$' },
    },
    {
      name: 'base-imports-only-base',
      comment: 'lib/*.ts (errors, paths, processes, file helpers) import nothing in the folders',
      severity: 'error',
      from: { path: '^lib/[^/]+\\.ts$' },
      to: { path: '^lib/[^/]+/' },
    },
    {
      name: 'lib-never-imports-cli',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^cli/' },
    },
    {
      name: 'no-folder-cycles',
      comment: 'a cycle between modules of different folders means the direction is broken somewhere',
      severity: 'error',
      from: { path: '^lib/([^/]+)/' },
      to: { circular: true, pathNot: '^lib/$1/' },
    },
    {
      name: 'not-to-missing',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
