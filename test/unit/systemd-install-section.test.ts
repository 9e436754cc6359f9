/**
 * installSection decides whether a switch must enable a unit again (its [Install] section
 * changed): formatting must not count as a change, a different target or alias must. The real
 * systemd behaviour (links moved, a disabled unit left disabled) is in e2e-update.
 */
import t from 'tap';
import { installSection } from '../../lib/systemd/unit-file.js';

const unit = (install: string) => `# sysctr: managed\n[Unit]\nDescription=x\n\n[Service]\nExecStart=/bin/true\nWantedBy=not-install.target\n\n${install}`;

t.test('only the [Install] section counts, normalised', async (t) => {
  const a = installSection(unit('[Install]\nWantedBy=multi-user.target\n'));
  t.equal(a, 'WantedBy=multi-user.target', 'a key in [Service] is not part of it');
  t.equal(installSection(unit('[Install]\n# a comment\n; another\n\nWantedBy = multi-user.target   \n')), a, 'comments, blank lines and spacing do not count');
  t.equal(installSection(unit('[Install]\nWantedBy=multi-user.target \\\n  basic.target\n')), 'WantedBy=multi-user.target basic.target', 'continuation lines are joined');
  t.equal(installSection(unit('')), '', 'no section: empty');
});

t.test('a changed target, an added alias or a second section after it are changes', async (t) => {
  const base = installSection(unit('[Install]\nWantedBy=multi-user.target\n'));
  t.not(installSection(unit('[Install]\nWantedBy=basic.target\n')), base);
  t.not(installSection(unit('[Install]\nWantedBy=multi-user.target\nAlias=web-alias.service\n')), base);
  t.equal(installSection(unit('[Install]\nWantedBy=multi-user.target\n[X-Extra]\nWantedBy=other.target\n')), base, 'keys after the section ends are not in it');
});
