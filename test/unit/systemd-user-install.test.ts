import t from 'tap';
import { forUserManager } from '../../lib/systemd/user-install.js';

const unit = (install: string) => `[Unit]\nDescription=x\n\n[Service]\nExecStart=/bin/true\n\n${install}`;

t.test('multi-user.target becomes default.target, the rest of the unit byte for byte', async (t) => {
  const r = forUserManager(unit('[Install]\nWantedBy=multi-user.target\n'));
  t.equal(r.text, unit('[Install]\nWantedBy=default.target\n'));
  t.same(r.replaced, ['WantedBy=multi-user.target']);
});

t.test('a unit that needs nothing comes back unchanged', async (t) => {
  const text = unit('[Install]\n# kept\nWantedBy = default.target   \nAlias=x.service\n');
  const r = forUserManager(text);
  t.equal(r.text, text);
  t.same(r.replaced, []);
  const none = '[Service]\nExecStart=/bin/true\n';
  t.equal(forUserManager(none).text, none, 'no [Install] at all');
});

t.test('lists add up, repeats are dropped, other targets kept, an empty assignment resets', async (t) => {
  const r = forUserManager(unit('[Install]\nWantedBy=multi-user.target timers.target\nWantedBy=graphical.target default.target\nRequiredBy=multi-user.target\n'));
  t.match(r.text, /\nWantedBy=default\.target timers\.target\n/);
  t.notMatch(r.text, /WantedBy=graphical/);
  t.match(r.text, /\nRequiredBy=default\.target\n/);
  t.same(r.replaced, ['WantedBy=multi-user.target', 'WantedBy=graphical.target', 'RequiredBy=multi-user.target']);
  const reset = forUserManager(unit('[Install]\nWantedBy=foo.target\nWantedBy=\nWantedBy=multi-user.target\n'));
  t.match(reset.text, /\[Install\]\nWantedBy=default\.target\n$/, 'what an empty assignment cleared stays cleared');
});

t.test('a [Service] key of the same name is not touched', async (t) => {
  const text = '[Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n';
  const r = forUserManager(text);
  t.equal(r.text, '[Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=default.target\n');
});
